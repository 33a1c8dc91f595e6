#!/usr/bin/env bash
# The demo command: installs what is missing, starts Azurite, the emulator and the local host,
# drops every file in examples/ (or the files and folders given as arguments, subfolders
# included) into the input container, prints a short preview of each job's results and keeps
# all outputs in .demo/output/ (see `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m devtools.demo "$@"
