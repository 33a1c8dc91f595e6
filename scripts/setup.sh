#!/usr/bin/env bash
# Installs everything the tests and the demo need, from a fresh clone: a Python venv with the
# pinned requirements, the infra checks in .venv-infra, and Azurite from the npm lockfile.
# Safe to run again (fast when nothing changed).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements-stamp
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ requirements-dev.txt -nt "$stamp" ]; then
  echo "==> installing Python requirements"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  touch "$stamp"
fi
# checkov and pycep-parser pin many packages of their own: a separate venv keeps them apart.
infra_stamp=.venv-infra/.requirements-stamp
if [ ! -x .venv-infra/bin/checkov ] || [ ! -f "$infra_stamp" ] || [ infra/requirements-checks.txt -nt "$infra_stamp" ]; then
  echo "==> installing the infra checks (checkov, pycep-parser) into .venv-infra"
  [ -x .venv-infra/bin/python ] || "$PYTHON" -m venv .venv-infra
  .venv-infra/bin/python -m pip install --quiet --disable-pip-version-check -r infra/requirements-checks.txt
  touch "$infra_stamp"
fi
if [ ! -x node_modules/.bin/azurite ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing Azurite (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
