"""The service answers 500 to every cancel of a job's batch (a cancel endpoint broken for that
batch). The job is cancelled by a person, keeps failing its step, and gives up. Its batch then
ends by itself at the service. The give-up's clean-up "follows each [batch] until it has ended,
then deletes their files" (README, "Nothing loops for ever"): once the batch has ended there is
nothing left to cancel, so the clean-up must finish and leave no file behind: a batch's status
is read before it is cancelled, and one that ended is collected, not cancelled (issue 9,
second attack)."""

from __future__ import annotations

import time

from shared.deps import default_deps
from shared.jobs.model import StopReason
from tests.conftest import files_left, jsonl
from tests.integration.attack9_kit import emulator_with, pump
from tests.integration.test_flow import chat, jobs, upload

RUNS = 3.0  # seconds the batch runs before it completes by itself


def test_a_batch_that_ended_by_itself_does_not_hold_the_clean_up_for_ever(app_env, host):
    with emulator_with(in_progress=RUNS) as emu:
        emu.set_faults(
            [{"kind": "http", "method": "POST", "path": "/cancel$", "status": 500, "times": None}]
        )
        app_env(AZURE_OPENAI_ENDPOINT=emu.url, BATCH_MAX_STEP_FAILURES="2")
        deps = default_deps()
        upload(deps, "stuck.jsonl", jsonl([chat("a", "x"), chat("b", "y")]))
        pump(host, lambda: bool(jobs(deps)) and bool(jobs(deps)[0].batch_ids))
        [job] = jobs(deps)
        deps.store.request_stop(job.job_id, StopReason.CANCEL, "a person")
        time.sleep(RUNS + 1)  # the batch has completed by itself meanwhile
        pump(host, lambda: jobs(deps)[0].is_terminal and jobs(deps)[0].cleaned, 30)
        assert not any(b["live"] for b in emu.batches(metadata={"batchdrop_job": job.job_id}))
        assert files_left(emu, job.job_id) == []
