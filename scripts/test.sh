#!/usr/bin/env bash
# The one test command: installs what is missing, then lint, type check and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "==> ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "==> mypy"
.venv/bin/mypy
echo "==> pytest"
# Two workers (the suite's tests are independent: each has its own containers, table and
# emulator); BATCHDROP_TEST_WORKERS=0 runs them in one process.
.venv/bin/python -m pytest -n "${BATCHDROP_TEST_WORKERS:-2}" "$@"
