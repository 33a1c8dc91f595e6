"""The README, the sample settings and the tools' `--help` say what the code does."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from devtools import demo
from devtools.azurite import Azurite
from devtools.emulator.__main__ import parse_args
from devtools.emulator.faults import KINDS
from shared.config import DEFAULTS
from shared.results.results_csv import OWN

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def help_of(parse, capsys) -> str:
    with pytest.raises(SystemExit):
        parse(["--help"])
    return capsys.readouterr().out


def test_the_emulator_help_lists_the_fault_options_the_readme_promises(capsys):
    text = help_of(parse_args, capsys)
    assert "--fault " in text and "--faults-file" in text and "/_emulator/faults" in text
    assert all(kind in text for kind in KINDS)
    section = README.split("- `python -m devtools.emulator")[1].split("\n- `")[0]
    options = re.findall(r"--[a-z-]+", section)
    assert {"--fault", "--faults-file", "--admin-token"} <= set(options)
    for option in options:
        assert option in text, option


def test_the_demo_help_and_the_readme_name_the_same_options(capsys):
    text = help_of(demo.main, capsys)
    for option in ("--out", "--preview", "--timeout"):
        assert option in text
    assert "--preview N" in README and "--out DIR" in README and ".demo/output/" in README
    script = (ROOT / "scripts" / "demo.sh").read_text()
    assert "three-questions" not in script and "examples/" in script


def test_the_hand_run_azurite_command_has_the_flags_the_tests_use():
    [command] = re.findall(r"`npx azurite ([^`]+)`", " ".join(README.split()))
    flags = set(command.split())
    assert {"--skipApiVersionCheck", "--disableTelemetry", "--inMemoryPersistence"} <= flags
    source = (ROOT / "devtools" / "azurite.py").read_text()
    assert all(flag in source for flag in ("--skipApiVersionCheck", "--disableTelemetry"))
    assert Azurite  # the tests' own Azurite starts with the same flags


def test_the_sample_settings_poll_quickly_but_the_app_default_stays():
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    assert float(sample["BATCH_STATUS_MIN_SECONDS"]) <= 10  # the sample polls every 10 s
    assert DEFAULTS["BATCH_STATUS_MIN_SECONDS"] == "55"


@pytest.mark.parametrize(
    "name",
    [
        "json_array_not_jsonl",
        "multiline_json_not_jsonl",
        "json_in_text_file",
        "unsupported_file_type",
        "exceeds_context",
        "output_truncated",
        "invalid_structured_output",
        "no_structured_output",
        "finish_reasons",
        "job_settings",
        "duplicate_of",
        "not_sent",
        "batch_line",
        "`skipped`",
        "`.ndjson`",
        "`.txt`",
        "`.json`",
        *(f"`{column}`" for column in sorted(OWN)),
        "`input.<name>`",
        "`answer.<name>`",
    ],
)
def test_the_readme_documents(name):
    assert name in README
