"""The lifecycle's driver with the Protocol fakes: which step runs in which state, the lease
around it, the progress path that needs no lease, and the hand-over to completion."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

import orjson
import pytest

from shared.batches.active import advance_active
from shared.batches.service import RemoteBatch
from shared.jobs.lease import claim
from shared.jobs.model import Job, JobStatus, Part, utcnow
from shared.lifecycle import advance as lifecycle
from shared.lifecycle.cleanup import cleanup
from shared.lifecycle.handover import requeue_if_stale
from shared.lifecycle.prepare import prepare
from tests.fakes import FakeService, make_deps

URL = "/v1/chat/completions"


def live_job(deps, statuses: list[str], status=JobStatus.IN_PROGRESS) -> Job:
    """A stored job with one part per status, each with a batch at the fake service."""
    parts = []
    for index, remote in enumerate(statuses):
        batch = RemoteBatch(f"b{index}", remote, total=2, completed=1, output_file_id=f"o{index}")
        deps.service.batches[batch.id] = batch
        parts.append(Part(index, "dep", URL, 2, file_id=f"f{index}", batch_id=batch.id))
    job = replace(Job.new("in", "x.jsonl", "e1"), status=status, parts=tuple(parts), total=2)
    return deps.store.create(job)


@pytest.mark.parametrize(
    ("status", "step"),
    [
        (JobStatus.RECEIVED, prepare),
        (JobStatus.SUBMITTING, advance_active),
        (JobStatus.WAITING, advance_active),
        (JobStatus.IN_PROGRESS, advance_active),
    ],
)
def test_each_open_state_has_its_step(status, step):
    assert lifecycle.step_for(replace(Job.new("c", "n", "e"), status=status), 60, 5) is step


def test_finished_jobs_are_cleaned_up_once_and_completing_jobs_belong_to_completion():
    done = replace(Job.new("c", "n", "e"), status=JobStatus.COMPLETED)
    assert lifecycle.step_for(done, 60, 5) is cleanup
    assert lifecycle.step_for(replace(done, cleaned=True), 60, 5) is None
    completing = replace(done, status=JobStatus.COMPLETING, updated_at=utcnow())
    assert lifecycle.step_for(completing, 60, 5) is None
    quiet = replace(completing, updated_at=utcnow() - timedelta(seconds=61))
    assert lifecycle.step_for(quiet, 60, 5) is requeue_if_stale


def test_progress_of_live_batches_is_saved_without_a_lease():
    deps = make_deps()
    job = live_job(deps, ["in_progress", "in_progress"])
    after = lifecycle.advance(deps, job)
    assert [p.completed for p in after.parts] == [1, 1]
    assert not after.lease.owner and after.status == JobStatus.IN_PROGRESS
    assert deps.store.get(job.job_id).parts[0].checked_at is not None


def test_a_job_leased_elsewhere_is_left_alone():
    deps = make_deps()
    job = live_job(deps, ["completed"])
    held = claim(deps.store, job, 60, 0)
    assert held is not None
    assert lifecycle.advance(deps, deps.store.get(job.job_id)).status == JobStatus.IN_PROGRESS
    assert deps.store.get(job.job_id).lease.owner == held.lease.owner
    assert deps.queue.sent == []


def test_the_last_batch_ending_hands_the_job_to_completion_with_the_lease_off():
    deps = make_deps()
    job = live_job(deps, ["completed", "in_progress"])
    deps.service.batches["b1"] = replace(deps.service.batches["b1"], status="completed")
    after = lifecycle.advance(deps, job)
    assert after.status == JobStatus.COMPLETING
    assert [orjson.loads(m) for m in deps.queue.sent] == [{"job_id": job.job_id}]
    stored = deps.store.get(job.job_id)
    assert stored.status == JobStatus.COMPLETING and not stored.lease.owner
    # the ended batches' inputs are freed at once
    assert {"f0", "f1"} <= set(deps.service.deleted)


def test_a_failing_step_releases_the_lease_for_the_next_trigger():
    class Broken(FakeService):
        def get_batch(self, batch_id):
            raise ConnectionError("service down")

    deps = make_deps(Broken())
    job = live_job(deps, ["in_progress"], status=JobStatus.SUBMITTING)
    with pytest.raises(ConnectionError):
        lifecycle.advance(deps, job)
    stored = deps.store.get(job.job_id)
    assert not stored.lease.owner and stored.status == JobStatus.SUBMITTING


def test_a_quiet_completing_job_is_queued_again_once():
    deps = make_deps(BATCH_LEASE_SECONDS="1")
    job = live_job(deps, ["completed"], status=JobStatus.COMPLETING)
    old = deps.store.save(replace(job, updated_at=utcnow() - timedelta(seconds=5)))
    after = lifecycle.advance(deps, old)
    assert len(deps.queue.sent) == 1 and after.status == JobStatus.COMPLETING
    assert lifecycle.advance(deps, after) == after  # fresh again: completion owns it
    assert len(deps.queue.sent) == 1


def test_a_waiting_part_is_not_sent_before_its_time():
    deps = make_deps()
    job = live_job(deps, [])
    waiting = Part(0, "dep", URL, 1, file_id="f0", wait_until=int(time.time()) + 600)
    job = deps.store.save(replace(job, status=JobStatus.WAITING, parts=(waiting,)))
    after = lifecycle.advance(deps, job)
    assert after.status == JobStatus.WAITING
    assert ("create_batch", "f0") not in deps.service.calls


def test_cleanup_deletes_every_file_at_the_service_and_closes_the_job():
    deps = make_deps()
    job = live_job(deps, ["completed"], status=JobStatus.COMPLETING)
    deps.work.upload_blob(f"{job.job_id}/requests.jsonl", b"{}\n")
    ended = replace(job.parts[0], remote_status="completed", output_file_id="o0")
    finished = deps.store.save(job.with_part(ended).moved_to(JobStatus.COMPLETED))
    after = lifecycle.advance(deps, finished)
    assert after.cleaned and not after.is_open
    assert {"f0", "o0"} <= set(deps.service.deleted)
    assert list(deps.work.list_blobs(job.job_id)) == []


def test_a_refused_batch_is_handed_to_completion_through_the_lifecycle():
    import httpx2
    import openai

    from shared.batches.azure_openai import refused

    request = httpx2.Request("POST", "http://x/openai/v1/batches")
    invalid = openai.UnprocessableEntityError(
        "no", response=httpx2.Response(422, request=request), body={"code": "invalidPayload"}
    )
    deps = make_deps(FakeService(create_errors=[refused(invalid)]))
    part = Part(0, "dep", URL, 1, file_id="f0", uploaded_at=int(time.time()))
    job = deps.store.create(replace(Job.new("in", "r.jsonl", "e"), status=JobStatus.SUBMITTING))
    job = deps.store.save(replace(job, parts=(part,)))
    after = lifecycle.advance(deps, job)
    assert after.status == JobStatus.COMPLETING and len(deps.queue.sent) == 1
    assert deps.store.get(job.job_id).parts[0].errors[0]["code"] == "invalidPayload"
