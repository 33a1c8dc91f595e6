# ruff: noqa: F811 - the fixtures of test_cli.py are imported by name and used as arguments
"""`batchdrop` shows what people and the service wrote as it is: input names with `[` and `]`
(ordinary blob-name characters) are never read as rich markup, in any command; a results.csv
with long cells previews, bounded; storage that does not answer is one line naming where its
address came from, in seconds; the preview's row count and ignored names are said plainly."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from shared.deps import default_deps
from tests.conftest import ROOT
from tests.integration.test_cli import cli, running  # noqa: F401 - fixtures
from tests.integration.test_flow import upload

ODD = ("mk/report[/].jsonl", "mk/data[v2].jsonl", "mk/[link=x]y.jsonl", "mk/[bold red]ok[/].jsonl")
DEAD = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;"
    "QueueEndpoint=http://127.0.0.1:1/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:1/devstoreaccount1;"
)


def test_input_names_are_shown_as_written_in_every_command(cli, host):
    deps = default_deps()
    for name in ODD:
        upload(deps, name, b'{"prompt": "x"}\n')
    assert host.deliver_new_blobs() == len(ODD)
    code, listed = cli("jobs")
    assert code == 0, listed[-300:]
    code, one = cli("jobs", "--prefix", "mk/data")
    assert "data[v2].jsonl" in one, one  # markup would show "data.jsonl", another name
    for name in ODD:
        assert name.removeprefix("mk/") in listed, (name, listed)
        code, shown = cli("show", name)
        assert code == 0 and shown.startswith(f"{name} ("), shown
        code, watched = cli("watch", name, "--timeout", "0.2", "--interval", "0.1")
        assert f"{name}: " in watched, watched


def test_a_file_named_with_brackets_is_submitted_and_said_as_it_is(cli, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "data[v2].jsonl").write_bytes(b'{"prompt": "x"}\n')
    (folder / "_job.json").write_text('{"template": "{prompt}"}')
    (folder / "_notes.jsonl").write_bytes(b'{"prompt": "not an input"}\n')
    code, text = cli("submit", str(folder))
    said = " ".join(text.split())
    assert code == 0, text
    assert "as " in said and "in/data[v2].jsonl: job " in said, said
    assert "in/_job.json (settings)" in said
    assert "in/_notes.jsonl (not an input: the app ignores names starting with _" in said


def test_results_csv_preview_of_long_cells_is_bounded(cli, running, tmp_path):
    big = "x" * 200_000
    data = tmp_path / "docs.csv"
    data.write_text("prompt,notes\n" + "".join(f"q{i},{big}\n" for i in range(2)))
    code, out = cli("submit", str(data), "--wait")
    assert code == 0, out
    # Its own process: in pytest's, the app's CSV reader has already raised the csv limit.
    run = subprocess.run(
        [sys.executable, "-m", "batchdrop_cli", "results", "docs.csv", "--csv"],
        cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 0 and "Traceback" not in out, out[-300:]
    assert "q0" in out and "xxxx" in out
    assert len(out) < 20_000  # each cell clipped


COMMANDS = [["jobs"], ["show", "x.jsonl"], ["results", "x.jsonl"], ["submit", "pyproject.toml"],
            ["watch", "--timeout", "1"]]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_storage_that_does_not_answer_is_one_line_naming_its_setting(command):
    env = {"PATH": "/usr/bin:/bin", "BATCHDROP_CONNECTION_STRING": DEAD, "HOME": "/tmp"}
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "batchdrop_cli", *command],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    took = time.monotonic() - started
    lines = (run.stdout + run.stderr).strip().splitlines()
    assert run.returncode == 1, lines
    assert len(lines) == 1, lines
    assert "does not answer" in lines[0] and "BATCHDROP_CONNECTION_STRING" in lines[0], lines
    assert took < 15, took  # not the SDK's ten retries with back-off


@pytest.mark.parametrize("rows", ["-1", "0", "1001", "ten"])
def test_a_preview_row_count_out_of_range_is_refused(rows):
    run = subprocess.run(
        [sys.executable, "-m", "batchdrop_cli", "results", "x.jsonl", "--rows", rows],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 2 and "give 1 to 1000 rows" in run.stderr, run.stderr
