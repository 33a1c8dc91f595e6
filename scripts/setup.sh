#!/usr/bin/env bash
# Installs everything the tests and the demo need, from a fresh clone: a Python 3.13 venv with
# the pinned requirements, the infra checks in .venv-infra, and Azurite from the npm lockfile.
# Safe to run again (fast when nothing changed).
set -euo pipefail
cd "$(dirname "$0")/.."

WANT=3.13  # Azure runs the app on Python 3.13 through azure-functions-runtime (requirements.txt)

# Prints the interpreter's major.minor, or nothing if it does not run (a pyenv shim for a
# version that is not selected fails, for instance).
version_of() {
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}

# PYTHON= if set (and it must be 3.13), else python3.13 or python3 on the PATH, else pyenv's.
find_python() {
  if [ -n "${PYTHON:-}" ]; then
    [ "$(version_of "$PYTHON")" = "$WANT" ] && echo "$PYTHON"
    return
  fi
  local candidate
  for candidate in python$WANT python3; do
    if command -v "$candidate" >/dev/null && [ "$(version_of "$candidate")" = "$WANT" ]; then
      command -v "$candidate"
      return
    fi
  done
  local root="${PYENV_ROOT:-$HOME/.pyenv}"
  command -v pyenv >/dev/null && root="$(pyenv root)"
  for candidate in $(ls -d "$root"/versions/$WANT.*/bin/python$WANT 2>/dev/null | sort -V -r); do
    case "$candidate" in *t/bin/*) continue ;; esac  # skip free-threaded builds (3.13.0t)
    [ "$(version_of "$candidate")" = "$WANT" ] && { echo "$candidate"; return; }
  done
}

PY=$(find_python) || true
if [ -z "$PY" ]; then
  echo "Python $WANT is required${PYTHON:+ (PYTHON=$PYTHON is not $WANT)}: install it (pyenv install $WANT, or your OS's python$WANT package) or set PYTHON=/path/to/python$WANT" >&2
  exit 1
fi

# A .venv made with another Python (an older clone's 3.11) is rebuilt, not reused.
if [ -e .venv ] && [ "$(version_of .venv/bin/python)" != "$WANT" ]; then
  echo "==> .venv is not Python $WANT: rebuilding it"
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $PY"
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements-stamp
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ requirements-dev.txt -nt "$stamp" ] || [ requirements-cli.txt -nt "$stamp" ]; then
  echo "==> installing Python requirements"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  touch "$stamp"
fi
# The project itself, editable, for the `batchdrop` command (.venv/bin/batchdrop; its
# dependencies are the pins above). A .venv that is a link to another checkout's is left as it
# is: installing would point it here. `python -m batchdrop_cli` works either way.
project_stamp=.venv/.project-stamp
if [ ! -L .venv ] && { [ ! -x .venv/bin/batchdrop ] || [ ! -f "$project_stamp" ] || [ pyproject.toml -nt "$project_stamp" ]; }; then
  echo "==> installing batchdrop (the command line) into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  touch "$project_stamp"
fi
# checkov and pycep-parser pin many packages of their own: a separate venv keeps them apart.
infra_stamp=.venv-infra/.requirements-stamp
if [ ! -x .venv-infra/bin/checkov ] || [ ! -f "$infra_stamp" ] || [ infra/requirements-checks.txt -nt "$infra_stamp" ]; then
  echo "==> installing the infra checks (checkov, pycep-parser) into .venv-infra"
  [ -x .venv-infra/bin/python ] || "$PY" -m venv .venv-infra
  .venv-infra/bin/python -m pip install --quiet --disable-pip-version-check -r infra/requirements-checks.txt
  touch "$infra_stamp"
fi
if [ ! -x node_modules/.bin/azurite ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing Azurite (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
