"""A worker frozen (SIGSTOP: a paused VM) while it publishes a job's outputs, inside the output
folder's marker lease and just before a write, for longer than that lease. A newer upload of
the same name (here one that is rejected, so it publishes at once) takes the folder once the
lease has run out. Thawed, the old worker wrote the rest of its files and its summary.json
over the newer one's (issue 9 attack 9b, I9). Now each write renews the lease first and after,
writes only where no blob is: the late write is taken back and the worker stops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import orjson

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from shared.storage.names import ERRORS, SUMMARY, output_prefix
from shared.storage.ownership import MARKER
from tests.conftest import ROOT, jsonl
from tests.integration.test_flow import chat, jobs, upload

NAME = "own/x.jsonl"


def _until(done, timeout: float, step, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "did not settle in time"
        try:
            step()
        except Exception:  # noqa: BLE001 - a busy folder fails the step; it is tried again
            pass
        time.sleep(every)


def test_a_thawed_publisher_never_overwrites_the_newer_versions_outputs(app_env, host):
    env = app_env(BATCH_LEASE_SECONDS="30")
    deps = default_deps()
    upload(deps, NAME, jsonl([chat("a", "x"), chat("b", "y")]))
    assert host.deliver_new_blobs() == 1
    _until(lambda: jobs(deps)[0].status == JobStatus.COMPLETING, 30, host.fire_timer)
    [older] = jobs(deps)
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.frozen_publisher"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == b"PUBLISHING"
        os.kill(worker.pid, signal.SIGSTOP)  # inside the marker lease; its renewals stop too
        upload(deps, NAME, b"this is not json\n")  # the newer version: rejected at once
        newer = lambda: [j for j in jobs(deps) if j.job_id != older.job_id]  # noqa: E731
        _until(
            lambda: bool(newer()) and newer()[0].is_terminal,
            60,
            host.fire_timer,  # the newer job's step, tried again while the folder is busy
            every=4.0,  # ticks apart, as the timer's are: five busy tries outlast the lease
        )
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    out, err = worker.communicate(timeout=60)
    summary = orjson.loads(deps.output.download_blob(f"{output_prefix(NAME)}/{SUMMARY}").readall())
    [latest] = newer()
    assert latest.status == JobStatus.REJECTED, (latest.status, latest.last_error)
    assert summary["job_id"] == latest.job_id, (summary["status"], out, err[-300:])
    folder = output_prefix(NAME) + "/"
    assert b"FolderLost" in err, (out, err[-300:])  # the thawed worker saw it lost the folder
    files = {b.name.removeprefix(folder) for b in deps.output.list_blobs(name_starts_with=folder)}
    assert files == {MARKER, ERRORS, SUMMARY}, files  # nothing of the older job's left there
