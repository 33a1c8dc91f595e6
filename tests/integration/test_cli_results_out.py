# ruff: noqa: F811 - the fixtures of test_cli.py are imported by name and used as arguments
"""`batchdrop results JOB --out PATH` where PATH cannot hold the download (a file where the
folder should be): one line naming the path and the fix, exit 1, never a traceback."""

from __future__ import annotations

from tests.conftest import jsonl
from tests.integration.test_cli import cli, running  # noqa: F401 - fixtures
from tests.integration.test_flow import chat


def test_results_out_into_a_path_that_is_a_file_is_one_line(cli, running, tmp_path):
    data = tmp_path / "o.jsonl"
    data.write_bytes(jsonl([chat("o-1", "x")]))
    code, out = cli("submit", str(data), "--wait", "--interval", "0.2", "--timeout", "60")
    assert code == 0, out
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder is wanted")
    for where in (blocker, blocker / "below"):
        code, said = cli("results", "o.jsonl", "--out", str(where))
        lines = said.strip().splitlines()
        assert code == 1 and len(lines) == 1, said
        assert f"--out {where}" in lines[0] and "give --out a folder" in lines[0], lines
    assert blocker.read_text() == "a file where a folder is wanted"  # nothing written over it
    code, said = cli("results", "o.jsonl", "--out", str(tmp_path / "fine"))
    assert code == 0 and "saved" in said, said
