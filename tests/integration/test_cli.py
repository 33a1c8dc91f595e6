"""`batchdrop`, the command line, against Azurite and the emulator with the app running in the
local host: submit a folder and follow its jobs to the end, list, show, preview and download
results, retry failed requests and watch them finish, and the refusals and errors people see."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import tomllib
import uuid
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path

import orjson
import pytest

from batchdrop_cli.__main__ import main
from shared.deps import default_deps
from tests.conftest import ROOT, jsonl
from tests.integration.test_flow import chat, jobs


@pytest.fixture
def running(host) -> Iterator[None]:
    """The host driven as Azure would: new blobs delivered, the timer fired, the queue read."""
    stop = threading.Event()

    def drive() -> None:
        while not stop.wait(0.1):
            host.deliver_new_blobs()
            host.fire_timer()
            host.drain_queue()

    worker = threading.Thread(target=drive, daemon=True)
    worker.start()
    yield
    stop.set()
    worker.join(10)


@pytest.fixture
def cli(app_env, monkeypatch, capsys):
    """Runs `batchdrop ARGS` in process (storage from the environment the app uses);
    (exit code, what it printed)."""
    app_env()
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> tuple[int, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out + out.err

    return run


def folder_of_inputs(tmp_path: Path, tag: str) -> Path:
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "_job.json").write_text('{"template": "Describe {city}."}')
    (folder / "sub" / "cities.csv").write_text("city\nOslo\nLima\n")
    (folder / "native.jsonl").write_bytes(jsonl([chat(f"{tag}-{i}", "x") for i in range(3)]))
    (folder / ".hidden").write_text("left out")
    return folder


def test_submit_a_folder_and_follow_its_jobs_to_the_end(cli, running, tmp_path):
    folder = folder_of_inputs(tmp_path, uuid.uuid4().hex[:8])
    code, text = cli("submit", str(folder), "--to", "cli", "--wait", "--interval", "0.2",
                     "--timeout", "60")  # fmt: skip
    assert code == 0, text
    names = {"cli/mixed/native.jsonl", "cli/mixed/sub/cities.csv"}
    assert {j.name for j in jobs(default_deps())} == names
    assert "cli/mixed/sub/_job.json (settings)" in text and ".hidden" not in text
    for job in jobs(default_deps()):
        assert f"job {job.job_id}" in text
        assert f"{job.name}: completed, {job.total} succeeded, 0 failed" in " ".join(text.split())

    code, text = cli("jobs", "--json")
    listed = json.loads(text)["jobs"]
    assert code == 0 and [j["input"]["name"] for j in listed] == sorted(names, reverse=True)
    code, text = cli("jobs", "--status", "completed", "--prefix", "cli/mixed/sub")
    assert code == 0 and "cli/mixed/sub/cities.csv" in text and "native" not in text

    code, text = cli("show", "cli/mixed/sub/cities.csv", "--json")
    shown = json.loads(text)
    assert shown["status"] == "completed" and "results.csv" in shown["output"]["files"]
    code, text = cli("show", shown["job_id"][:12])
    assert code == 0 and "completed" in text and "batch-output" not in text  # test containers
    assert f"{shown['output']['container']}/cli/mixed/sub/cities.csv/" in text

    code, text = cli("results", "cli/mixed/sub/cities.csv", "--csv")
    assert code == 0 and "Oslo" in text and "Lima" in text and "answer" in text
    code, text = cli("results", "cli/mixed/native.jsonl", "--rows", "2")
    assert code == 0 and "the first 2 of 3" in text and text.count("succeeded") == 2
    code, text = cli("results", "cli/mixed/native.jsonl", "--out", str(tmp_path / "got"))
    saved = tmp_path / "got" / "cli" / "mixed" / "native"
    assert code == 0 and sorted(p.name for p in saved.iterdir()) == [
        "errors.jsonl", "results.jsonl", "summary.json",
    ]  # fmt: skip
    assert orjson.loads((saved / "summary.json").read_bytes())["counts"]["succeeded"] == 3


def test_retry_failed_requests_from_the_cli_and_watch_them_finish(cli, running, emulator, tmp_path):
    tag = uuid.uuid4().hex[:8]
    emulator.set_faults(
        [{"kind": "line_failure", "custom_id": f"^{tag}-1$", "status_code": 400, "attempts": 1}]
    )
    try:
        path = tmp_path / "flaky.jsonl"
        path.write_bytes(jsonl([chat(f"{tag}-{i}", "x") for i in range(3)]))
        code, text = cli("submit", str(path), "--wait", "--interval", "0.2", "--timeout", "60")
        assert code == 1 and "1 failed" in text  # finished, but not every request answered
        code, text = cli("cancel", "flaky.jsonl")
        assert code == 1 and "only received, submitting, waiting or in_progress" in text
        code, text = cli("retry", "flaky.jsonl")
        assert code == 0 and "Retry requested" in text
        code, text = cli("retry", "flaky.jsonl")
        assert code == 0 and "Already pending" in text
        code, text = cli("watch", "flaky.jsonl", "--interval", "0.2", "--timeout", "60")
        assert code == 0 and "completed, 3 succeeded, 0 failed" in " ".join(text.split())
    finally:
        emulator.clear_faults()
    code, text = cli("results", "flaky.jsonl", "--out", str(tmp_path / "out"))
    rows = (tmp_path / "out" / "flaky" / "results.jsonl").read_bytes().splitlines()
    assert [orjson.loads(r)["attempts"] for r in rows] == [1, 2, 1]


def test_what_people_see_when_something_is_wrong(cli, monkeypatch, tmp_path):
    code, text = cli("show", "never-uploaded.jsonl")
    assert code == 1 and "no job for 'never-uploaded.jsonl'" in text
    code, text = cli("jobs", "--status", "finished")
    assert code == 1 and "unknown status 'finished'" in text
    code, text = cli("jobs", "--next", "garbage")
    assert code == 1 and "continuation token" in text
    code, text = cli("submit", str(tmp_path / "missing.jsonl"))
    assert code == 1 and "no such file or folder" in text
    code, text = cli("watch", "--timeout", "0.1", "--interval", "0.05")
    assert code == 0 and "status" in text  # the (empty) table of open jobs
    for name in ("AzureWebJobsStorage", "BATCHDROP_CONNECTION_STRING", "BATCHDROP_ACCOUNT_URL"):
        monkeypatch.delenv(name, raising=False)
    code, text = cli("jobs")
    assert code == 1 and "--account-url https://<account>.blob.core.windows.net" in text
    code, text = cli("--account-url", "https://example.invalid/x", "jobs")
    assert code == 1 and "cannot derive the table endpoint" in text


def test_the_command_is_installable_and_runs_as_a_module():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    module, _, name = project["project"]["scripts"]["batchdrop"].partition(":")
    assert getattr(import_module(module), name) is main
    done = subprocess.run(
        [sys.executable, "-m", "batchdrop_cli", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0 and "retry" in done.stdout and "results" in done.stdout
    assert "batchdrop_cli" in (ROOT / ".funcignore").read_text().split()  # never deployed
