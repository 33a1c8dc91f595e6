"""The demo following its jobs through the local host's HTTP API, against Azurite and the
emulator: more jobs than one listing page, skipped and superseded jobs (final, shown without
outputs of their own), and a timeout or Ctrl-C that keeps the outputs of the jobs that finished
and says where."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from devtools import demo, demo_jobs
from devtools.host.http import serve
from shared.deps import default_deps
from shared.intake.receive import record_job
from shared.lifecycle.advance import advance
from tests.conftest import ROOT, jsonl, run_until
from tests.integration.test_flow import chat, upload
from tests.integration.test_receive import finished, version_of

REJECTED = b"no prompt column\nx\n"  # a CSV without a prompt column: final at once


@pytest.fixture
def api(host) -> Iterator[int]:
    server = serve(host, port=0)
    yield server.server_port
    server.shutdown()


def test_the_demo_waits_for_more_jobs_than_one_listing_page(app_env, host, api):
    app_env()
    deps = default_deps()
    for i in range(demo_jobs.PAGE + 1):
        upload(deps, f"many/q{i}.csv", REJECTED)
    host.deliver_new_blobs()
    final: list[str] = []
    done = demo_jobs.wait_for_jobs(
        api, demo_jobs.PAGE + 1, timeout=60, on_final=lambda j: final.append(j["job_id"])
    )
    assert len(done) == demo_jobs.PAGE + 1 == len(set(final)) == len(final)
    assert {j["status"] for j in done} == {"rejected"}


def test_skipped_and_superseded_jobs_are_final_and_shown(app_env, host, api, tmp_path, capsys):
    app_env()
    deps = default_deps()
    data = jsonl([chat("a", "Name a colour.")])
    upload(deps, "dup/q.jsonl", data)
    host.deliver_new_blobs()
    run_until(host, finished(deps, 1))
    upload(deps, "dup/copy.jsonl", data)  # identical content: skipped
    upload(deps, "moving.jsonl", jsonl([chat("b", "v1")]))
    stale = record_job(
        deps, deps.settings.input_container, "moving.jsonl", *version_of(deps, "moving.jsonl")
    )
    upload(deps, "moving.jsonl", jsonl([chat("c", "v2")]))
    advance(deps, stale)  # superseded by the newer upload
    host.deliver_new_blobs()
    run_until(host, finished(deps, 4), timeout=40)
    kept: dict[str, Path | None] = {}
    done = demo_jobs.wait_for_jobs(
        api,
        4,
        timeout=30,
        on_final=lambda j: kept.update(
            {j["job_id"]: demo_jobs.keep_outputs(deps.blobs, j, tmp_path)}
        ),
    )
    by_status = {j["status"]: j for j in done}
    assert sorted(j["status"] for j in done) == ["completed", "completed", "skipped", "superseded"]
    assert kept[by_status["superseded"]["job_id"]] is None  # its folder is the newer job's
    for job in done:
        demo_jobs.show_results(job, kept[job["job_id"]], rows=3)
    text = " ".join(capsys.readouterr().out.split())
    assert "moving.jsonl: status superseded: a newer upload of the same name replaced it" in text
    assert "identical to dup/q.jsonl: its results are in" in text


def test_a_timeout_keeps_the_finished_outputs_and_says_where(app_env, host, api, tmp_path, capsys):
    app_env()
    deps = default_deps()
    upload(deps, "late/bad.csv", REJECTED)
    upload(deps, "late/good.jsonl", jsonl([chat("a", "Hi")]))
    host.deliver_new_blobs()  # nobody fires the timer: the good job stays open
    kept: dict[str, Path | None] = {}

    def follow() -> int:
        def keep(job: dict[str, Any]) -> None:
            kept[job["job_id"]] = demo_jobs.keep_outputs(deps.blobs, job, tmp_path)

        demo_jobs.wait_for_jobs(api, 2, timeout=1.5, on_final=keep)
        return 0

    assert demo.ended(follow, kept, tmp_path) == 1
    text = " ".join(capsys.readouterr().out.split())
    assert "jobs not finished after 2s; still open: late/good.jsonl" in text
    assert f"outputs of the 1 finished job(s) kept in {tmp_path}" in text
    [folder] = kept.values()
    assert (
        folder is not None
        and orjson.loads((folder / "summary.json").read_bytes())["status"] == "rejected"
    )
    assert (folder / "errors.jsonl").exists() and not list(folder.glob("*.part"))


def test_ctrl_c_keeps_the_finished_outputs_and_says_where(tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "bad.csv").write_bytes(REJECTED)
    (folder / "good.jsonl").write_bytes(jsonl([{"prompt": f"Question {i}?"} for i in range(3)]))
    out = tmp_path / "kept"
    proc = subprocess.Popen(
        [sys.executable, "-m", "devtools.demo", str(folder), "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("*/batch-output/demo/drop/bad.csv/summary.json")):
            assert proc.poll() is None and time.monotonic() < deadline, (
                "the rejected job never got kept"
            )
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)  # the good job's batch takes the emulator 9 s or more
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stdout[-2000:] + stderr[-2000:]
    [run] = list(out.iterdir())
    text = " ".join(stdout.split())
    assert "interrupted" in text and f"outputs of the 1 finished job(s) kept in {run}" in text
    kept = run / "batch-output" / "demo" / "drop" / "bad.csv"
    assert orjson.loads((kept / "summary.json").read_bytes())["status"] == "rejected"
