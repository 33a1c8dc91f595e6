"""The submit and track steps against the Protocol fakes: intent, lookups, refusals, waits."""

from __future__ import annotations

import time
from dataclasses import replace

import httpx2
import openai
import pytest

from shared.batches.active import advance_active
from shared.batches.azure_openai import refused
from shared.batches.service import QuotaExceeded, RemoteBatch
from shared.batches.submit import LATE_CREATE_TIMEOUTS
from shared.deps import Deps
from shared.jobs.lease import claim
from shared.jobs.model import Job, JobStatus, Part, Stop, StopReason, utcnow
from tests.fakes import FakeService, committed_then, make_deps


def setup(api: FakeService, parts: int = 1) -> tuple[Deps, Job]:
    deps = make_deps(api, BATCH_FILE_WAIT_SECONDS="2")
    store = deps.store
    job = Job.new("in", "f.jsonl", "e")
    job = replace(
        job,
        status=JobStatus.SUBMITTING,
        parts=tuple(
            Part(
                i, "dep", "/v1/chat/completions", 1, file_id=f"up-{i}", uploaded_at=int(time.time())
            )
            for i in range(parts)
        ),
    )
    created = store.create(job)
    assert created is not None
    return deps, claim(store, created, 60, 0) or created


def status_error(cls: type[openai.APIStatusError], status: int, code: str, message: str):
    request = httpx2.Request("POST", "http://x/openai/v1/batches")
    response = httpx2.Response(status, request=request)
    return cls(message, response=response, body={"code": code, "message": message})


def test_a_file_still_running_is_waited_for_not_thrown_away():
    api = FakeService(file_statuses=["running", "processed"])
    deps, job = setup(api)
    job = advance_active(deps, job)
    assert job.parts[0].batch_id and api.deleted == []
    assert job.status == JobStatus.IN_PROGRESS


def test_a_lost_create_answer_is_looked_up_next_time_not_repeated():
    api = FakeService(
        create_errors=[
            committed_then(openai.APITimeoutError(request=httpx2.Request("POST", "http://x")))
        ]
    )
    deps, job = setup(api)
    with pytest.raises(openai.APITimeoutError):
        advance_active(deps, job)
    stored = deps.store.get(job.job_id)
    assert stored.parts[0].creating and stored.parts[0].batch_id is None
    stored.lease.owner = ""  # as if the first worker died and its lease ran out
    again = advance_active(deps, claim(deps.store, stored, 60, 0) or stored)
    assert [c for c, _ in api.calls].count("create_batch") == 1
    assert again.parts[0].batch_id == next(iter(api.batches))


def test_a_create_lost_without_a_trace_is_waited_for_before_another_is_sent():
    """Nothing found right after a lost answer: the create may still land (F3). No second
    create, and a cancel does not close the part, until LATE_CREATE_TIMEOUTS timeouts pass."""
    timeout = openai.APITimeoutError(request=httpx2.Request("POST", "http://x"))
    api = FakeService(create_errors=[timeout])
    deps, job = setup(api)
    with pytest.raises(openai.APITimeoutError):
        advance_active(deps, job)
    stored = deps.store.get(job.job_id)
    assert stored.parts[0].creating and stored.parts[0].creating_at
    stored.lease.owner = ""
    again = advance_active(deps, claim(deps.store, stored, 60, 0) or stored)
    assert [c for c, _ in api.calls].count("create_batch") == 1 and not again.parts[0].batch_id
    stop = Stop(StopReason.CANCEL, "asked", utcnow())
    stopped = advance_active(deps, replace(again, stop=stop))
    assert stopped.parts[0].remote_status is None  # still looked for, not closed
    s = deps.settings
    window = LATE_CREATE_TIMEOUTS * s.openai_timeout_seconds + s.clock_skew_seconds
    lapsed = replace(stopped.parts[0], creating_at=int(time.time() - window - 1))
    later = advance_active(deps, replace(stopped.with_part(lapsed), stop=None))
    assert [c for c, _ in api.calls].count("create_batch") == 2
    assert later.parts[0].batch_id and not later.parts[0].creating


def test_a_permanent_refusal_fails_the_part_with_the_service_message():
    # A refusal of what was sent (a 401 or 403 is a wrong setting instead: test_config_errors).
    refusal = status_error(
        openai.UnprocessableEntityError,
        422,
        "invalidPayload",
        "The input file's endpoint does not match the batch's endpoint.",
    )
    deps, job = setup(FakeService(create_errors=[refused(refusal)]))
    job = advance_active(deps, job)
    part = job.parts[0]
    assert part.remote_status == "failed" and part.errors[0]["status_code"] == 422
    assert "does not match" in part.errors[0]["message"]
    assert job.status == JobStatus.COMPLETING  # the lifecycle hands it to completion


def test_quota_waits_back_off_and_the_clock_restarts_after_a_batch():
    api = FakeService(create_errors=[QuotaExceeded("full"), QuotaExceeded("full")])
    deps, job = setup(api)
    job = advance_active(deps, job)
    first = job.parts[0]
    assert job.status == JobStatus.WAITING and first.quota_tries == 1
    assert first.wait_until - time.time() == pytest.approx(60, abs=2)
    job = advance_active(deps, job.with_part(replace(first, wait_until=0)))
    second = job.parts[0]
    assert second.quota_tries == 2 and second.wait_until - time.time() == pytest.approx(120, abs=2)
    assert second.waiting_since == first.waiting_since
    job = advance_active(deps, job.with_part(replace(second, wait_until=0)))
    assert job.parts[0].batch_id and job.parts[0].waiting_since is None


def test_a_batch_refused_for_quota_after_validation_waits_and_frees_its_files():
    api = FakeService()
    deps, job = setup(api)
    job = advance_active(deps, job)
    batch_id = job.parts[0].batch_id
    api.batches[batch_id] = RemoteBatch(
        batch_id,
        "failed",
        error_file_id="err-1",
        errors=({"code": "token_limit_exceeded", "message": "full"},),
    )
    job = advance_active(deps, job)
    part = job.parts[0]
    assert job.status == JobStatus.WAITING and part.batch_id is None
    assert part.remote_status is None and part.errors == () and "err-1" in api.deleted


def test_cancel_requested_before_a_batch_exists_sends_nothing():
    api = FakeService(file_statuses=["pending"])
    deps, job = setup(api, parts=2)
    stop = Stop(StopReason.CANCEL, "asked", utcnow())
    job = advance_active(deps, replace(job, stop=stop))
    assert [p.remote_status for p in job.parts] == ["cancelled", "cancelled"]
    assert ("create_batch", "up-0") not in api.calls
    assert job.status == JobStatus.COMPLETING
