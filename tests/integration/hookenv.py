"""Test doubles for the azd hooks: the infra-checks venv, a fake `az` and a way to run a hook.

The fake `az` is a real executable on the PATH. It answers each command it was given canned JSON
for (keyed by the command line without --query, --output, --subscription, --url and --body; the
longest answered prefix wins), applies the
script's own --query with the jmespath library (the one the Azure CLI uses) and prints json or tsv
the way knack, the CLI's output layer, does. So the hooks' JMESPath queries and their parsing of
tsv are exercised for real; only Azure is canned. Every call is logged for the tests to read.
FAKE_AZ_CRLF=1 makes it end its lines with CRLF, as az.cmd does when a hook runs in WSL.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
SETUP_HINT = (
    "python3 -m venv .venv-infra && .venv-infra/bin/pip install -r infra/requirements-checks.txt"
)

FAKE_AZ = r"""
import json, os, sys
import jmespath

OPTIONS_WITH_VALUE = {"--query", "--output", "-o", "--subscription", "--url", "--body"}


def split(argv):
    words, options, i = [], {}, 0
    while i < len(argv):
        if argv[i] in OPTIONS_WITH_VALUE:
            options[argv[i]] = argv[i + 1]
            i += 2
        else:
            words.append(argv[i])
            i += 1
    return " ".join(words), options


def cell(value):
    if isinstance(value, list):
        return str(len(value))
    if isinstance(value, dict):
        return ""
    return value if isinstance(value, str) else str(value)


def tsv_row(row):
    if isinstance(row, dict):
        return "\t".join(cell(v) for _, v in sorted(row.items()))
    if isinstance(row, list):
        return "\t".join(cell(v) for v in row)
    if isinstance(row, bool):
        return str(row).lower()
    return cell(row)


def render(data, output):
    if output == "none":
        return ""
    if output == "json":
        return json.dumps(data, indent=2) + "\n"
    if data is None:
        return ""
    rows = data if isinstance(data, list) else [data]
    return "".join(tsv_row(row) + "\n" for row in rows)


# Parameter files (@path) as they were when az read them: the hooks delete them after.
def files(argv):
    found = {}
    for arg in argv:
        if arg.startswith("@") and os.path.isfile(arg[1:]):
            found[arg] = open(arg[1:]).read()
    return found


# The answer for the longest answered command the call starts with.
def find(answers, command):
    keys = [k for k in answers if command == k or command.startswith(k + " ")]
    return answers[max(keys, key=len)] if keys else None


command, options = split(sys.argv[1:])
call = {"command": command, "options": options, "argv": sys.argv[1:], "files": files(sys.argv[1:])}
with open(os.environ["FAKE_AZ_LOG"], "a") as log:
    log.write(json.dumps(call) + "\n")
answer = find(json.load(open(os.environ["FAKE_AZ_ANSWERS"])), command)
if answer is None:
    sys.stderr.write("fake az: no answer for: " + command + "\n")
    sys.exit(2)
if answer.get("exit", 0):
    sys.stderr.write(answer.get("stderr", "ERROR"))
    sys.exit(answer["exit"])
data = answer.get("json")
if "--query" in options:
    data = jmespath.search(options["--query"], data)
out = render(data, options.get("--output", options.get("-o", "json")))
if os.environ.get("FAKE_AZ_CRLF"):  # az.cmd run from WSL ends its lines with CRLF
    out = out.replace("\n", "\r\n")
sys.stdout.write(out)
"""


def infra_venv() -> Path:
    venv = Path(os.environ.get("BATCHDROP_INFRA_VENV", REPO / ".venv-infra"))
    if not venv.is_absolute():
        venv = REPO / venv
    if not (venv / "bin" / "python").exists() or not (venv / "bin" / "checkov").exists():
        pytest.fail(
            f"No infra-checks venv at {venv} (python and checkov). Create it from the repo root: "
            f"{SETUP_HINT}  (or set BATCHDROP_INFRA_VENV)",
            pytrace=False,
        )
    return venv


@dataclass
class FakeAz:
    """A bin directory holding `az`, the answers it gives and the log of what it was asked."""

    bin_dir: Path
    answers_path: Path
    log_path: Path

    def answer(
        self, command: str, data: Any = None, *, exit_code: int = 0, stderr: str = ""
    ) -> None:
        answers = json.loads(self.answers_path.read_text())
        answers[command] = {"json": data, "exit": exit_code, "stderr": stderr}
        self.answers_path.write_text(json.dumps(answers))

    def calls(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def commands(self) -> list[str]:
        return [call["command"] for call in self.calls()]

    def env(self) -> dict[str, str]:
        return {"FAKE_AZ_ANSWERS": str(self.answers_path), "FAKE_AZ_LOG": str(self.log_path)}


def make_fake_az(directory: Path) -> FakeAz:
    bin_dir = directory / "bin"
    bin_dir.mkdir()
    python = infra_venv() / "bin" / "python"
    az = bin_dir / "az"
    az.write_text(f"#!{python}\n{FAKE_AZ}")
    az.chmod(0o755)
    answers = directory / "az-answers.json"
    answers.write_text("{}")
    return FakeAz(bin_dir, answers, directory / "az-calls.jsonl")


def run_hook(
    script: str, fake: FakeAz, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run scripts/<script> with sh, the fake az first on the PATH and only the given settings."""
    base = {
        "PATH": f"{fake.bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(fake.bin_dir.parent),
        **fake.env(),
    }
    return subprocess.run(
        ["sh", str(SCRIPTS / script)],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
