"""A mistyped `--table` or container name: storage answers 404 with its own code, and the
one-line message names the flag and variable to check, not the connection string."""

from __future__ import annotations

import pytest

from batchdrop_cli.__main__ import main


@pytest.fixture
def run(azurite, monkeypatch, capsys):
    monkeypatch.setenv("BATCHDROP_CONNECTION_STRING", azurite.connection_string)

    def batchdrop(*args: str) -> tuple[int, str]:
        code = main(list(args))
        said = capsys.readouterr()
        return code, said.out + said.err

    return batchdrop


def test_a_wrong_table_name_is_named_in_the_message(run):
    code, said = run("--table", "nosuchtable42", "jobs")
    lines = said.strip().splitlines()
    assert code == 1 and len(lines) == 1, said
    assert "(TableNotFound)" in lines[0] and "--table (BATCH_JOBS_TABLE)" in lines[0], lines
    assert "BATCHDROP_CONNECTION_STRING" not in lines[0], lines


def test_a_wrong_container_name_is_named_in_the_message(run, tmp_path):
    data = tmp_path / "q.jsonl"
    data.write_text('{"prompt": "x"}\n')
    code, said = run("--input-container", "no-such-container-42", "submit", str(data))
    lines = said.strip().splitlines()
    assert code == 1 and "(ContainerNotFound)" in lines[-1], said
    assert "--input-container" in lines[-1] and "BATCH_INPUT_CONTAINER" in lines[-1], lines
