"""A create whose first tries are refused with 429 (Retry-After) is sent again in the same
step (CREATE_TRIES tries), so its last try leaves well after the first one's `creating_at`.
When that last try is held up in the network and lands late, the wait for a late create (three
client timeouts plus the clock skew, README "Creates are never retried blindly") must count
from the try that was sent, not the first one: else another create goes out and one part has
two batches (F3, I1, I10)."""

from __future__ import annotations

import time

from shared.batches.submit import LATE_CREATE_TIMEOUTS
from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import jsonl
from tests.integration.attack9_kit import emulator_with, pump
from tests.integration.attack9_proxy import SlowLink
from tests.integration.test_flow import chat, jobs, upload

TIMEOUT = 1.0  # AZURE_OPENAI_TIMEOUT_SECONDS
RETRY_AFTER = 1.5  # each 429 asks for this wait; three of them come before the held try
LATE = 2.5  # the held try reaches the service this long after it was sent


class HoldFourthCreate(SlowLink):
    """Holds the fourth POST .../batches (the first three are 429s from the emulator)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream, r"/batches$", 0, LATE)
        self.seen = 0

    def slow(self, method: str, path: str) -> bool:
        if method != "POST" or not self.path.search(path.split("?")[0]):
            return False
        self.seen += 1
        if self.seen != 4:
            return False
        self.started.set()
        return True


def test_a_create_retried_after_429s_then_landing_late_leaves_one_batch(app_env, host):
    assert LATE < LATE_CREATE_TIMEOUTS * TIMEOUT  # the held try is inside the promised window
    with emulator_with(in_progress=2.0) as emu, HoldFourthCreate(emu.url) as link:
        emu.set_faults(
            [
                {
                    "kind": "http",
                    "method": "POST",
                    "path": "/batches$",
                    "status": 429,
                    "retry_after": RETRY_AFTER,
                    "times": 3,
                }
            ]
        )
        app_env(AZURE_OPENAI_ENDPOINT=link.url, AZURE_OPENAI_TIMEOUT_SECONDS=str(TIMEOUT))
        deps = default_deps()
        upload(deps, "retried.jsonl", jsonl([chat("a", "x"), chat("b", "y")]))
        pump(
            host, lambda: bool(jobs(deps)) and all(j.is_terminal and j.cleaned for j in jobs(deps))
        )
        assert link.started.is_set()
        time.sleep(LATE + 1)  # the held try has landed by now
        [job] = jobs(deps)
        batches = emu.batches(metadata={"batchdrop_job": job.job_id})
    assert job.status == JobStatus.COMPLETED, job.last_error
    assert len(batches) == 1, [(b["id"], b["status"]) for b in batches]  # one part, one batch
    assert not any(b["live"] for b in batches)
