"""A create that times out is looked up at once; when that look-up's list call is answered 401
(a token or key refused for a moment), the job waits for the setting. The create itself was
never answered 401: it may still be on its way to the service. The README's wait for a late
create (three client timeouts plus the clock skew) must still hold when the job resumes, or it
sends a second create and the held one lands as a second, untracked batch (F3, I1, I10)."""

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
LATE = 2.5  # the create reaches the service this long after it was sent


def test_a_denied_lookup_after_a_lost_create_still_waits_for_it(app_env, host):
    assert LATE < LATE_CREATE_TIMEOUTS * TIMEOUT  # inside the promised window
    with emulator_with(in_progress=2.0) as emu, SlowLink(emu.url, r"/batches$", 0, LATE) as link:
        # The look-up right after the timeout (GET .../batches) is refused once.
        emu.set_faults(
            [{"kind": "http", "method": "GET", "path": "/batches$", "status": 401, "times": 1}]
        )
        app_env(AZURE_OPENAI_ENDPOINT=link.url, AZURE_OPENAI_TIMEOUT_SECONDS=str(TIMEOUT))
        deps = default_deps()
        upload(deps, "denied.jsonl", jsonl([chat("a", "x"), chat("b", "y")]))
        pump(
            host, lambda: bool(jobs(deps)) and all(j.is_terminal and j.cleaned for j in jobs(deps))
        )
        assert link.started.is_set()
        time.sleep(LATE + 1)  # the held create has landed
        [job] = jobs(deps)
        batches = emu.batches(metadata={"batchdrop_job": job.job_id})
    assert job.status == JobStatus.COMPLETED, job.last_error
    assert len(batches) == 1, [(b["id"], b["status"]) for b in batches]  # one part, one batch
    assert not any(b["live"] for b in batches)
