"""A worker frozen (SIGSTOP: a paused VM, a long GC) inside a create, while it waits out a 429's
Retry-After before trying again, for longer than its lease. Another worker takes the job over,
waits out the late-create window and creates the part's batch. Thawed while that batch runs,
the first worker sends its create's next try: F21 promises no second batch (I1), and I10 that
every batch at the service is recorded on its job and ends cancelled or merged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import ROOT, jsonl
from tests.integration.attack9_kit import emulator_with, live_or_untracked, pump
from tests.integration.attack9_proxy import SlowLink
from tests.integration.test_flow import chat, jobs, upload

RETRY_AFTER = 3.0  # the first create is refused with 429 and this Retry-After


class SeeCreate(SlowLink):
    """Passes everything on at once; `created` is set when the first create goes through."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream, r"/batches$", 0, 0)
        self.created = threading.Event()

    def slow(self, method: str, path: str) -> bool:
        if method == "POST" and self.path.search(path.split("?")[0]):
            self.created.set()
        return False

    def __enter__(self) -> SeeCreate:
        super().__enter__()
        return self


def test_a_worker_thawed_inside_a_create_leaves_no_second_batch(app_env, host):
    with emulator_with(in_progress=3.0) as emu, SeeCreate(emu.url) as link:
        emu.set_faults(
            [
                {
                    "kind": "http",
                    "method": "POST",
                    "path": "/batches$",
                    "status": 429,
                    "retry_after": RETRY_AFTER,
                    "times": 1,
                }
            ]
        )
        env = app_env(AZURE_OPENAI_ENDPOINT=link.url, BATCH_LEASE_SECONDS="2")
        deps = default_deps()
        upload(deps, "frozen.jsonl", jsonl([chat("a", "x"), chat("b", "y")]))
        props = deps.blobs.get_blob_client(deps.settings.input_container, "frozen.jsonl")
        host.seen.add(("frozen.jsonl", props.get_blob_properties().etag))  # the worker has it
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.attack9_worker", "frozen.jsonl"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            assert link.created.wait(60) and worker.poll() is None
            time.sleep(0.3)  # the 429 is back: the worker sleeps out its Retry-After
            os.kill(worker.pid, signal.SIGSTOP)
            # This host takes the job over once the lease ran out, and creates the batch.
            pump(host, lambda: bool(jobs(deps)[0].batch_ids))
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        out, err = worker.communicate(timeout=60)  # its create's next try goes out
        pump(host, lambda: jobs(deps)[0].is_terminal and jobs(deps)[0].cleaned)
        time.sleep(1.0)
        [job] = jobs(deps)
        assert job.status == JobStatus.COMPLETED, job.last_error
        batches = emu.batches(metadata={"batchdrop_job": job.job_id})
        assert len(batches) == 1, ([(b["id"], b["status"]) for b in batches], out, err[-3000:])
        assert live_or_untracked(emu, job) == []
