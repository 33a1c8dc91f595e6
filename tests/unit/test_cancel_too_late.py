"""A cancel that reached no batch: every batch of the run had completed by itself and every
request was answered, so the job ends `completed` (its results are whole) with LastError saying
the cancel came too late. A cancel that stopped a batch, or kept failed requests from being
retried, still ends the job `cancelled`."""

from __future__ import annotations

from shared.completion import complete_job
from shared.jobs.model import JobStatus, StopReason
from tests.fakes import make_deps
from tests.unit.test_completion import Answers, answer, completing_job

ASKED = "Asked through the HTTP API."


def cancelled_after(files: dict, **part_fields):
    deps = make_deps(Answers(files))
    job = completing_job(deps, ["a", "b"], **part_fields)
    assert deps.store.request_stop(job.job_id, StopReason.CANCEL, ASKED)
    return complete_job(deps, job.job_id)


def test_a_cancel_after_every_batch_completed_leaves_the_job_completed():
    done = cancelled_after({"out-0": [answer("a"), answer("b")]})
    assert done is not None and done.status == JobStatus.COMPLETED
    assert (done.succeeded, done.failed) == (2, 0)
    assert "came after every batch had ended" in done.last_error, done.last_error


def test_a_cancel_that_stopped_a_batch_cancels_the_job():
    done = cancelled_after({"out-0": [answer("a")]}, remote_status="cancelled")
    assert done is not None and done.status == JobStatus.CANCELLED


def test_a_cancel_that_kept_failures_from_a_retry_cancels_the_job():
    done = cancelled_after({"out-0": [answer("a"), answer("b", status=500)]})
    assert done is not None and done.status == JobStatus.CANCELLED and done.failed == 1
