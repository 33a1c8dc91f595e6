#!/usr/bin/env bash
# The demo command: installs what is missing, starts Azurite, the emulator and the local host,
# drops examples/three-questions.jsonl into the input container and prints the merged results.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m devtools.demo "$@"
