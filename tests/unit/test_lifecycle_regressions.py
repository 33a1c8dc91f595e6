"""Holes the lifecycle's stateful test (test_lifecycle_machine.py) and the chaos test found,
each kept as the smallest scenario that showed it."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest

from shared import crash
from shared.batches.service import RemoteBatch
from shared.completion import complete_job
from shared.http_api import retry_job
from shared.intake.receive import record_job
from shared.jobs.model import Job, JobStatus, Part, StopReason
from shared.lifecycle.advance import advance
from shared.lifecycle.give_up import published_outcome
from shared.upload import receive_blob
from tests.fakes import FakeService, make_deps
from tests.unit.lifecycle_kit import INPUT, World

URL = "/v1/chat/completions"
QUOTA = ({"code": "token_limit_exceeded", "message": "Enqueued token limit reached."},)


def test_a_stopped_job_whose_batch_the_service_refused_for_quota_still_ends():
    """The stop reads the batch first and sees the service had refused it for quota after
    validation: nothing to cancel; tracking it sends the part back to wait for a new batch. That
    part (stopped, no batch any more) must still be closed, not left waiting for ever."""
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
    assert ("cancel_batch", "b0") not in api.calls  # it had ended: a cancel could only fail
    assert "f0" in api.deleted


def test_a_late_event_for_an_older_version_of_the_same_second_does_not_stop_the_newer():
    """Blob times have a one-second resolution. An event that read version 1, then stalled
    while version 2 (written the same second) was uploaded and recorded, records version 1
    last: the newest is the version in storage now, not the one recorded last."""
    world = World.new()
    deps, inputs = world.workers[0], world.blobs.inputs
    inputs.upload_blob("a.jsonl", native("v1"))
    first = inputs.properties("a.jsonl")
    inputs.upload_blob("a.jsonl", native("v2"))
    newer = receive_blob(deps, INPUT, "a.jsonl")
    older = record_job(deps, INPUT, "a.jsonl", first.etag, first.last_modified)
    assert newer is not None and older is not None
    assert deps.store.get(newer.job_id).stop is None
    assert deps.store.get(older.job_id).stop.reason == StopReason.SUPERSEDED


def native(tag: str) -> bytes:
    body = {"model": "dep", "messages": [{"role": "user", "content": "hi"}]}
    line = {"custom_id": tag, "method": "POST", "url": URL, "body": body}
    return orjson.dumps(line) + b"\n"


def test_a_job_that_published_before_it_crashed_keeps_its_outcome_when_superseded():
    """summary.json is completion's commit point. A completion that wrote the outputs and
    died before saving the final state, then a newer upload: the rerun must not end the job
    `superseded` (a superseded job writes no outputs) while its summary says `completed`."""
    world = World.new()
    deps, inputs = world.workers[0], world.blobs.inputs
    inputs.upload_blob("a.jsonl", native("v1"))
    job = receive_blob(deps, INPUT, "a.jsonl")
    world.sim.finish_all()
    advance(deps, deps.store.get(job.job_id))
    [message] = world.queue.sent
    crash.ARMED.add("after_outputs_written")
    try:
        with pytest.raises(crash.Crash):
            complete_job(deps, job.job_id)
    finally:
        crash.ARMED.clear()
    inputs.tick(1)
    inputs.upload_blob("a.jsonl", native("v2"))
    assert receive_blob(world.workers[1], INPUT, "a.jsonl") is not None
    world.table.lapse_leases()
    done = complete_job(deps, orjson.loads(message)["job_id"])
    summary = orjson.loads(world.blobs.get_container_client("out").blobs["a/summary.json"])
    assert (summary["job_id"], summary["status"]) == (job.job_id, "completed")
    assert done.status == JobStatus.COMPLETED and done.cleaned


class EveryOtherUploadFails(FakeService):
    """A flaky service: every second upload is lost to a transient error, the rest work."""

    def upload(self, filename, path):
        self.tries = getattr(self, "tries", 0) + 1
        if self.tries % 2 == 0:
            raise ConnectionResetError("connection reset by peer")
        return super().upload(filename, path)


def test_transient_failures_between_steps_that_make_progress_are_not_failures_in_a_row():
    """BATCH_MAX_STEP_FAILURES counts a step failing in a row. A job of many parts whose steps
    each send a part and then meet a transient error is progressing: it must not give up."""
    deps = make_deps(EveryOtherUploadFails(), BATCH_MAX_STEP_FAILURES="3")
    parts = tuple(Part(i, "dep", URL, 1) for i in range(6))
    job = Job.new("in", "many.jsonl", "e1")
    for part in parts:
        deps.work.upload_blob(f"{job.job_id}/part-{part.index:04d}.jsonl", native(f"c{part.index}"))
    job = deps.store.create(replace(job, status=JobStatus.SUBMITTING, parts=parts, total=6))
    for _ in range(12):
        try:
            advance(deps, deps.store.get(job.job_id))
        except ConnectionResetError:
            pass
    job = deps.store.get(job.job_id)
    assert job.status == JobStatus.IN_PROGRESS
    assert all(p.batch_id for p in job.parts)


def test_a_retried_job_superseded_before_it_ends_does_not_take_the_earlier_run_s_outcome():
    """A person's retry reopens a cancelled job while its summary.json (status `cancelled`)
    stays in the folder: the outputs are those of the run before. A newer upload then
    supersedes the reopened job. That summary says how the earlier run ended, not this one:
    the job must end `superseded`, never written straight from `submitting` to `cancelled`
    (I5)."""
    world = World.new()
    deps, inputs = world.workers[0], world.blobs.inputs
    inputs.upload_blob("a.jsonl", native("v1"))
    job = receive_blob(deps, INPUT, "a.jsonl")
    deps.store.request_stop(job.job_id, StopReason.CANCEL, "cancelled")
    advance(deps, deps.store.get(job.job_id))  # the cancel asked at the service
    world.sim.finish_all()  # cancelled before it answered: its one request failed
    advance(deps, deps.store.get(job.job_id))
    assert complete_job(deps, job.job_id).status == JobStatus.CANCELLED
    assert retry_job(deps, job.job_id)["requested"]
    crash.ARMED.add("after_file_upload")  # reopened, its new part's file sent, then a crash
    try:
        with pytest.raises(crash.Crash):
            advance(deps, deps.store.get(job.job_id))
    finally:
        crash.ARMED.clear()
    assert deps.store.get(job.job_id).status == JobStatus.SUBMITTING
    inputs.tick(1)
    inputs.upload_blob("a.jsonl", native("v2"))
    assert receive_blob(world.workers[1], INPUT, "a.jsonl") is not None
    world.table.lapse_leases()
    done = advance(deps, deps.store.get(job.job_id))
    assert world.table.illegal == []
    assert done.status == JobStatus.SUPERSEDED and done.cleaned
    assert "run before the retry" in done.last_error


def test_a_retried_job_that_gives_up_cancels_its_new_batch_whatever_the_summary_before_says():
    """A person's retry reopened a failed job: its summary.json (status `failed`) stays in the
    folder. The new run's step then keeps failing. Giving up must cancel the new run's batch
    and say why, not take that summary for this run's commit point and end the job `failed`
    at once with its batch left running (I10)."""
    api = FakeService()
    api.batches["b1"] = RemoteBatch("b1", "in_progress")
    deps = make_deps(api, BATCH_MAX_STEP_FAILURES="2")
    ended = Part(0, "dep", URL, 1, file_id="f0", batch_id="b0", remote_status="failed")
    ended = replace(ended, failed=1, ended_at=1, collected=True)
    new = Part(1, "dep", URL, 1, file_id="f1", batch_id="b1", remote_status="in_progress", round=2)
    job = replace(Job.new("in", "x.jsonl", "e1"), status=JobStatus.IN_PROGRESS, total=1)
    job = deps.store.create(replace(job, parts=(ended, new), first_part=1, step_failures=2))
    before = {"job_id": job.job_id, "status": "failed", "batches": [{"part": 0, "id": "b0"}]}
    deps.output.upload_blob("x/summary.json", orjson.dumps(before))
    done = advance(deps, deps.store.get(job.job_id))
    assert ("cancel_batch", "b1") in api.calls
    assert done.status == JobStatus.FAILED and done.last_error.startswith("Gave up")


def test_a_published_outcome_is_taken_only_along_a_change_the_row_may_make():
    """A step's result may hold a state it reached in memory only: a stopped job's parts all
    closed (SUBMITTING -> COMPLETING), nothing saved yet. Its save writes the row's state
    straight to the outcome, so the summary's status must be one the row may move to too:
    `submitting` -> `cancelled` is not (I5)."""
    deps = make_deps()
    job = replace(Job.new("in", "x.jsonl", "e1"), status=JobStatus.SUBMITTING, total=1)
    stored = deps.store.create(replace(job, parts=(Part(0, "dep", URL, 1),)))
    summary = {"job_id": job.job_id, "status": "cancelled", "batches": [{"part": 0}]}
    deps.output.upload_blob("x/summary.json", orjson.dumps(summary))
    in_memory = replace(stored, status=JobStatus.COMPLETING)
    assert published_outcome(deps, in_memory) is None
    assert deps.store.get(job.job_id).status == JobStatus.SUBMITTING
