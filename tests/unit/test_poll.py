"""The poll tick with the Protocol fakes: every open job advanced, one failure isolated, the
budget kept, lost events swept up, stuck jobs raised for the alert."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from shared.batches.service import RemoteBatch
from shared.jobs.model import ALERT, Job, JobStatus, Part
from shared.poll import poll_all
from tests.fakes import FakeService, make_deps

URL = "/v1/chat/completions"


def open_job(deps, name: str, batch_status: str = "in_progress") -> Job:
    batch = RemoteBatch(f"b-{name}", batch_status, total=1)
    deps.service.batches[batch.id] = batch
    part = Part(0, "dep", URL, 1, file_id=f"f-{name}", batch_id=batch.id)
    job = replace(Job.new("in", name, "e"), status=JobStatus.IN_PROGRESS, parts=(part,))
    return deps.store.create(job)


def test_every_open_job_is_advanced_and_one_failure_does_not_stop_the_rest():
    class Flaky(FakeService):
        def get_batch(self, batch_id):
            if batch_id == "b-bad.jsonl":
                raise ConnectionError("reset")
            return super().get_batch(batch_id)

    deps = make_deps(Flaky())
    good = [open_job(deps, f"g{i}.jsonl", "completed") for i in range(5)]
    open_job(deps, "bad.jsonl")
    report = poll_all(deps)
    assert (report.seen, report.advanced, report.errors) == (6, 5, 1)
    assert all(deps.store.get(j.job_id).status == JobStatus.COMPLETING for j in good)
    assert len(deps.queue.sent) == 5


def test_jobs_past_the_budget_wait_for_the_next_tick():
    deps = make_deps(BATCH_POLL_BUDGET_SECONDS="0.000001", BATCH_POLL_CONCURRENCY="1")
    for i in range(3):
        open_job(deps, f"j{i}.jsonl", "completed")
    report = poll_all(deps)
    assert report.seen == 3 and report.skipped == 3 and report.advanced == 0


def test_a_blob_whose_event_never_came_gets_its_job_on_the_next_tick():
    deps = make_deps()
    inputs = deps.blobs.get_container_client(deps.settings.input_container)
    inputs.upload_blob("lost.jsonl", b"{}\n")
    inputs.upload_blob("_job.json", b"{}")  # settings, not an input
    poll_all(deps)
    names = [j.name for j in deps.store.all_jobs()]
    assert names == ["lost.jsonl"]
    poll_all(deps)  # the sweep remembers where it got to, and a job is recorded once
    assert [j.name for j in deps.store.all_jobs()] == ["lost.jsonl"]


def test_a_job_open_past_its_deadline_is_logged_for_the_alert(caplog):
    deps = make_deps(BATCH_STUCK_HOURS="1")
    job = open_job(deps, "old.jsonl")
    deps.store.save(replace(job, created_at=job.created_at - timedelta(hours=2)))
    open_job(deps, "new.jsonl")
    caplog.set_level(logging.ERROR)
    poll_all(deps)
    alerts = [r.getMessage() for r in caplog.records if ALERT in r.getMessage()]
    assert len(alerts) == 1 and job.job_id in alerts[0]
