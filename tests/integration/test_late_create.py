"""A create the service acts on after the client's timeout (a request held up in the network):
the look-up right after the timeout cannot see it yet. Another create may be sent only once
the first has had LATE_CREATE_TIMEOUTS client timeouts to land, so one part never has two
batches, and a cancel meanwhile leaves nothing running or billed (F3, I1, I10)."""

from __future__ import annotations

import time

from shared.batches.submit import LATE_CREATE_TIMEOUTS
from shared.deps import default_deps
from shared.jobs.model import Job, JobStatus, StopReason
from tests.conftest import jsonl
from tests.integration.attack9_kit import emulator_with, pump
from tests.integration.attack9_proxy import SlowLink
from tests.integration.test_flow import chat, jobs, upload

TIMEOUT = 1.5  # AZURE_OPENAI_TIMEOUT_SECONDS here
LATE = 2.5  # the first create reaches the service this long after it was sent


def _run(app_env, host, cancel: bool) -> tuple[list[dict], Job]:
    assert LATE < LATE_CREATE_TIMEOUTS * TIMEOUT  # inside the window the app waits out
    with emulator_with(in_progress=4.0) as emu, SlowLink(emu.url, r"/batches$", 0, LATE) as link:
        app_env(AZURE_OPENAI_ENDPOINT=link.url, AZURE_OPENAI_TIMEOUT_SECONDS=str(TIMEOUT))
        deps = default_deps()
        upload(deps, "late.jsonl", jsonl([chat("a", "x"), chat("b", "y")]))
        sent = time.monotonic()
        if cancel:
            pump(host, lambda: link.started.is_set() and bool(jobs(deps)), timeout=20)
            deps.store.request_stop(jobs(deps)[0].job_id, StopReason.CANCEL, "a person")
        pump(
            host, lambda: bool(jobs(deps)) and all(j.is_terminal and j.cleaned for j in jobs(deps))
        )
        time.sleep(max(0.0, LATE + 1 - (time.monotonic() - sent)))  # the held create has landed
        [job] = jobs(deps)
        return emu.batches(metadata={"batchdrop_job": job.job_id}), job


def test_a_create_that_lands_after_the_timeout_leaves_no_second_batch(app_env, host):
    batches, job = _run(app_env, host, cancel=False)
    assert job.status == JobStatus.COMPLETED, job.last_error
    assert [b["id"] for b in batches] == list(job.batch_ids)  # one batch, the one recorded
    assert not any(b["live"] for b in batches)


def test_a_cancel_while_a_create_is_still_on_its_way_leaves_nothing_running(app_env, host):
    batches, job = _run(app_env, host, cancel=True)
    assert job.status == JobStatus.CANCELLED
    assert not any(b["live"] for b in batches)
    assert {b["id"] for b in batches} <= set(job.batch_ids)  # none billed and untracked
