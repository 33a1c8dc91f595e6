"""Issue 9 (attack): a worker frozen (SIGSTOP: a paused VM, a long GC) half-way through an
upload, for longer than its lease, while another worker takes the job over and uploads the
part again. Thawed, its upload completes, and it cannot record it: it deletes it, so nothing
is left at the service (I6)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import ROOT, files_left, jsonl
from tests.integration.attack9_kit import emulator_with, pump
from tests.integration.attack9_proxy import SlowLink
from tests.integration.test_flow import chat, jobs, upload

LINE = "y" * 500_000
LINES = 12  # 6 MB at 1 MB/s: six seconds of upload


def _frozen_worker(env: dict[str, str], name: str, link: SlowLink) -> subprocess.Popen[bytes]:
    """The worker that delivers `name`, frozen a second into its upload."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.attack9_worker", name],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert link.started.wait(30) and worker.poll() is None
    time.sleep(1.0)
    os.kill(worker.pid, signal.SIGSTOP)  # mid-upload; its lease's heartbeat stops too
    return worker


def test_a_worker_thawed_after_a_takeover_leaves_no_upload_behind(app_env, host):
    with emulator_with(in_progress=1.0) as emu, SlowLink(emu.url, r"/files$", 1e6) as link:
        env = app_env(
            AZURE_OPENAI_ENDPOINT=link.url,
            BATCH_LEASE_SECONDS="2",
            BATCH_FILE_WAIT_SECONDS="0",
        )
        deps = default_deps()
        upload(deps, "big.jsonl", jsonl([chat(f"r{i}", LINE) for i in range(LINES)]))
        props = deps.blobs.get_blob_client(deps.settings.input_container, "big.jsonl")
        host.seen.add(("big.jsonl", props.get_blob_properties().etag))  # the worker has it
        worker = _frozen_worker(env, "big.jsonl", link)
        try:  # this host takes the job over once the lease ran out, and finishes it
            pump(host, lambda: jobs(deps)[0].is_terminal and jobs(deps)[0].cleaned)
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        worker.communicate(timeout=60)  # its upload completes; it cannot record it
        [job] = jobs(deps)
        assert job.status == JobStatus.COMPLETED, job.last_error
        uploads = [f for f in emu.state()["deleted_files"] if job.job_id in f["filename"]]
        assert len(uploads) == 2  # the frozen worker's, and the one of the worker that took over
        assert files_left(emu, job.job_id) == []
