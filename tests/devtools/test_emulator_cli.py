"""The emulator's command line, its `--help` and its README agree with the code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson

from devtools.emulator import FAULT_KINDS
from devtools.emulator.__main__ import config_from, parse_args, rules_from
from devtools.emulator.rules import COMMON_FIELDS
from tests.devtools.kit import ROOT, admin, raw_request

README = ROOT / "devtools" / "emulator" / "README.md"
EMULATOR = [sys.executable, "-m", "devtools.emulator"]


def test_cli_starts_and_prints_its_url() -> None:
    rule = '{"kind": "http", "path": "/batches$", "status": 503}'
    process = subprocess.Popen(
        [*EMULATOR, "--port", "0", "--speed", "10", "--admin-token", "t", "--fault", rule],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        match = re.fullmatch(
            r"Azure OpenAI batch emulator listening on (http://127\.0\.0\.1:(\d+))", line
        )
        assert match and match.group(2) != "0", line
        assert raw_request(f"{match.group(1)}/_emulator/state")[0] == 401
        faults = admin(f"{match.group(1)}/_emulator/faults", token="t")
        assert [(f["kind"], f["status"]) for f in faults] == [("http", 503)]
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0


def test_cli_refuses_bad_fault_rules_before_it_starts() -> None:
    done = subprocess.run(
        [*EMULATOR, "--port", "0", "--fault", '{"kind": "nope"}'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0 and "listening" not in done.stdout
    assert "unknown fault kind 'nope'" in done.stderr


def test_cli_options_reach_the_config(tmp_path: Path) -> None:
    assert config_from(parse_args(["--port", "0"])).latency == 0.0
    rules = tmp_path / "rules.json"
    rules.write_bytes(orjson.dumps([{"kind": "capitalize_status"}]))
    args = parse_args(
        "--port 0 --latency 0.05 --validating 7 --in-progress 9 --speed 2 --api-key k "
        "--entra-secret s --admin-token a --drop-deleted-files --fault-seed 4 "
        f"--faults-file {rules} --fault".split()
        + ['{"kind": "iso_timestamps"}']
    )
    config = config_from(args)
    assert (config.latency, config.speed) == (0.05, 2)
    assert (config.timings.validating, config.timings.in_progress) == (7, 9)
    assert config.effective_timings().validating == 3.5
    assert (config.api_key, config.entra_secret, config.admin_token) == ("k", "s", "a")
    assert config.keep_deleted_files is False and args.fault_seed == "4"
    assert [r["kind"] for r in rules_from(args)] == ["capitalize_status", "iso_timestamps"]


def help_text() -> str:
    done = subprocess.run(
        [*EMULATOR, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0
    return done.stdout


def test_help_lists_every_fault_kind_on_one_line_with_its_fields() -> None:
    text = help_text()
    for name, spec in FAULT_KINDS.items():
        (line,) = [x for x in text.splitlines() if x.split()[:1] == [name]]
        assert spec.summary in line
        assert line.endswith("fields: " + ", ".join(spec.fields))
    for option in ("--fault", "--faults-file", "--fault-seed", "--speed", "--latency"):
        assert option in text
    for phase in ("--file-processing", "--validating", "--in-progress", "--finalizing"):
        assert phase in text
    for field in COMMON_FIELDS[1:]:
        assert field in text.split("every rule also takes:")[1]


def readme_fault_rows() -> dict[str, str]:
    section = README.read_text().split("## Fault injection", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (.*)$", section, flags=re.MULTILINE)
    return dict(rows)


def test_readme_fault_table_matches_the_code() -> None:
    rows = readme_fault_rows()
    assert list(rows) == list(FAULT_KINDS)
    for name, spec in FAULT_KINDS.items():
        fields_column = rows[name].split(" | ")[0]
        for field in spec.fields:
            assert f"`{field}`" in fields_column, (name, field)
    common = README.read_text().split("every rule takes:", 1)[1].split("| kind |")[0]
    for field in COMMON_FIELDS[1:]:
        assert f"`{field}`" in common
