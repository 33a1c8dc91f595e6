"""Holes the lifecycle's stateful test (test_lifecycle_machine.py) and the chaos test found,
each kept as the smallest scenario that showed it."""

from __future__ import annotations

from dataclasses import replace

from shared.batches.service import RemoteBatch
from shared.jobs.model import Job, JobStatus, Part, StopReason
from shared.lifecycle.advance import advance
from tests.fakes import FakeService, make_deps

URL = "/v1/chat/completions"
QUOTA = ({"code": "token_limit_exceeded", "message": "Enqueued token limit reached."},)


def test_a_stopped_job_whose_batch_the_service_refused_for_quota_still_ends():
    """The stop asks the batch to cancel; the same step then sees the service had refused it
    for quota after validation, which sends the part back to wait for a new batch. That part
    (cancel already sent, no batch any more) must still be closed, not left waiting for ever."""
    api = FakeService()
    api.batches["b0"] = RemoteBatch("b0", "failed", errors=QUOTA)
    deps = make_deps(api)
    part = Part(0, "dep", URL, 1, file_id="f0", batch_id="b0", remote_status="validating")
    job = deps.store.create(
        replace(
            Job.new("in", "x.jsonl", "e1"), status=JobStatus.IN_PROGRESS, parts=(part,), total=1
        )
    )
    deps.store.request_stop(job.job_id, StopReason.SUPERSEDED, "a newer upload")
    for _ in range(3):
        job = advance(deps, deps.store.get(job.job_id))
    assert job.status == JobStatus.SUPERSEDED and job.cleaned
    assert ("cancel_batch", "b0") in api.calls and "f0" in api.deleted
