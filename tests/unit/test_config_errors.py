"""Errors people can act on, with the Protocol fakes: a wrong setting makes a job wait (named,
alerted, backed off, never counted as a step failure), it resumes the state it paused in once
fixed, and fails only after BATCH_CONFIG_WAIT_HOURS; last_error explains failed, waiting and
stuck jobs with the service's code and message and what to do."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from azure.core.exceptions import ResourceNotFoundError

from shared.batches.service import RemoteBatch
from shared.completion import complete_job
from shared.config import Settings
from shared.jobs.explain import failure_reason, stuck_reason, waiting_reason
from shared.jobs.model import ALERT, Job, JobStatus, Part, Pause
from shared.lifecycle import advance as lifecycle
from shared.lifecycle.pause import RETRY_CAP_SECONDS
from shared.misconfig import Misconfigured, openai_problem, storage_problem
from shared.poll import poll_all
from shared.telemetry import metrics
from tests.fakes import FakeService, make_deps
from tests.unit.telemetry_kit import recorded
from tests.unit.test_completion import Answers, answer, completing_job

URL = "/v1/chat/completions"
KEY = openai_problem(
    make_deps(AZURE_OPENAI_API_KEY="wrong").settings, 401, "Access denied: invalid subscription key"
)


class Broken(FakeService):
    """A service whose every call raises `problem` until it is set to None (the fix)."""

    problem: Misconfigured | None = KEY

    def _check(self) -> None:
        if self.problem is not None:
            raise self.problem

    def create_batch(self, file_id: str, endpoint: str, metadata: dict[str, str]) -> RemoteBatch:
        self._check()
        return super().create_batch(file_id, endpoint, metadata)

    def get_batch(self, batch_id: str) -> RemoteBatch | None:
        self._check()
        return super().get_batch(batch_id)


def submitting(deps) -> Job:
    part = Part(0, "dep", URL, 1, file_id="up-0", uploaded_at=int(time.time()))
    job = replace(Job.new("in", "k.jsonl", "e"), status=JobStatus.SUBMITTING, parts=(part,))
    return deps.store.create(replace(job, total=1))


def due(deps, job: Job) -> Job:
    """The stored job with its next try due now (as if the back-off had passed)."""
    stored = deps.store.get(job.job_id)
    assert stored.paused is not None
    return deps.store.save(replace(stored, paused=replace(stored.paused, retry_at=0)))


def test_a_wrong_key_makes_the_job_wait_named_and_alerted_not_fail(tmp_path, caplog):
    deps = make_deps(Broken(), BATCH_QUOTA_BACKOFF_SECONDS="60")
    job = submitting(deps)
    with recorded(tmp_path) as telemetry, caplog.at_level(logging.ERROR):
        after = lifecycle.advance(deps, job)
        assert telemetry.total(metrics.CONFIG_ERRORS, setting="AZURE_OPENAI_API_KEY") == 1
    stored = deps.store.get(job.job_id)
    assert after.status == stored.status == JobStatus.WAITING and stored.is_paused
    assert stored.paused.resume == JobStatus.SUBMITTING and stored.paused.tries == 1
    assert "AZURE_OPENAI_API_KEY" in stored.last_error and "resumes by itself" in stored.last_error
    assert stored.step_failures == 0 and not stored.lease.owner
    assert stored.paused.retry_at - time.time() == pytest.approx(60, abs=2)
    assert any(ALERT in r.getMessage() and job.job_id in r.getMessage() for r in caplog.records)
    # Not before the next try: nothing is called.
    calls = len(deps.service.calls)
    assert lifecycle.advance(deps, stored).status == JobStatus.WAITING
    assert len(deps.service.calls) == calls


def test_a_wait_goes_on_with_back_off_and_never_counts_as_a_step_failure():
    deps = make_deps(Broken(), BATCH_QUOTA_BACKOFF_SECONDS="300", BATCH_MAX_STEP_FAILURES="2")
    job = submitting(deps)
    lifecycle.advance(deps, job)
    first = deps.store.get(job.job_id).paused
    for _ in range(4):
        lifecycle.advance(deps, due(deps, job))
    stored = deps.store.get(job.job_id)
    assert stored.status == JobStatus.WAITING and stored.step_failures == 0
    assert (stored.paused.tries, stored.paused.since) == (5, first.since)
    assert stored.paused.resume == JobStatus.SUBMITTING
    # 300, 600, 1200... but never more than 15 minutes apart.
    assert stored.paused.retry_at - time.time() == pytest.approx(RETRY_CAP_SECONDS, abs=2)


def test_once_fixed_the_job_resumes_where_it_paused_and_forgets_the_wait():
    deps = make_deps(Broken())
    job = submitting(deps)
    lifecycle.advance(deps, job)
    deps.service.problem = None  # the key is fixed
    after = lifecycle.advance(deps, due(deps, job))
    stored = deps.store.get(job.job_id)
    assert after.status == stored.status == JobStatus.IN_PROGRESS
    assert stored.parts[0].batch_id and stored.paused is None and stored.last_error == ""


def test_a_wrong_endpoint_while_batches_run_waits_instead_of_calling_them_gone():
    problem = openai_problem(make_deps().settings, 404, "Resource not found")
    deps = make_deps(Broken())
    deps.service.problem = None
    deps.service.batches["b0"] = RemoteBatch("b0", "in_progress", total=1)
    part = Part(0, "dep", URL, 1, file_id="f0", batch_id="b0", remote_status="in_progress")
    job = deps.store.create(
        replace(Job.new("in", "e.jsonl", "e"), status=JobStatus.IN_PROGRESS, parts=(part,))
    )
    deps.service.problem = problem
    lifecycle.advance(deps, job)  # the lease-free progress save meets it, then the step
    stored = deps.store.get(job.job_id)
    assert stored.is_paused and stored.paused.resume == JobStatus.IN_PROGRESS
    assert "AZURE_OPENAI_ENDPOINT" in stored.last_error
    assert stored.parts[0].remote_status == "in_progress"  # not failed as "batch_not_found"
    deps.service.problem = None
    deps.service.batches["b0"] = RemoteBatch("b0", "completed", total=1, completed=1)
    after = lifecycle.advance(deps, due(deps, job))
    assert after.status == JobStatus.COMPLETING and len(deps.queue.sent) == 1


def test_a_wait_that_outlasts_its_limit_ends_failed_with_the_reason_and_a_summary():
    deps = make_deps(Broken(), BATCH_CONFIG_WAIT_HOURS="1")
    job = submitting(deps)
    lifecycle.advance(deps, job)
    stored = deps.store.get(job.job_id)
    old = replace(stored.paused, since=int(time.time()) - 3601, retry_at=0)
    after = lifecycle.advance(deps, deps.store.save(replace(stored, paused=old)))
    assert after.status == JobStatus.FAILED
    assert "waiting 1 h for a setting" in after.last_error
    assert "AZURE_OPENAI_API_KEY" in after.last_error
    summary = orjson.loads(deps.output.blobs["k/summary.json"])
    assert summary["status"] == "failed"
    assert "AZURE_OPENAI_API_KEY" in summary["errors"][0]["message"]


class NoDownloads(Answers):
    problem: Misconfigured | None = openai_problem(None, 403, "PermissionDenied no access")

    def download(self, file_id: str, dest: Path) -> None:
        if self.problem is not None:
            raise self.problem
        super().download(file_id, dest)


def test_a_wrong_setting_at_completion_waits_and_the_poller_hands_it_over_again():
    deps = make_deps(NoDownloads({"out-0": [answer("a")]}))
    job = completing_job(deps, ["a"])
    paused = complete_job(deps, job.job_id)  # no exception: the queue message is done with
    assert paused is not None and paused.is_paused
    assert paused.paused.resume == JobStatus.COMPLETING
    assert "role" in paused.last_error and paused.step_failures == 0
    deps.service.problem = None
    handed = lifecycle.advance(deps, due(deps, job))
    assert handed.status == JobStatus.COMPLETING and len(deps.queue.sent) == 1
    done = complete_job(deps, job.job_id)
    assert done is not None and done.status == JobStatus.COMPLETED and done.paused is None
    assert done.last_error == ""


def test_a_missing_container_is_named_by_its_setting():
    settings = Settings.from_env(
        {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "AZURE_OPENAI_ENDPOINT": "http://x"}
    )

    class Request:
        url = "http://127.0.0.1:10000/devstoreaccount1/batch-output/q/_owner.json"

    class Response:
        request = Request()
        status_code = 404
        reason = "The specified container does not exist."
        headers: dict[str, str] = {}

        def text(self) -> str:
            return ""

    error = ResourceNotFoundError("The specified container does not exist.", response=Response())
    error.error_code = "ContainerNotFound"
    problem = storage_problem(error, settings)
    assert problem is not None and problem.setting == "BATCH_OUTPUT_CONTAINER"
    assert "'batch-output' does not exist" in problem.reason
    blob_gone = ResourceNotFoundError("The specified blob does not exist.")
    blob_gone.error_code = "BlobNotFound"
    assert storage_problem(blob_gone, settings) is None  # a missing blob is no setting


def test_a_refused_batch_fails_with_its_code_message_and_what_to_do():
    error = {"code": "model_not_found", "message": "The model deployment 'x' was not found."}
    part = Part(0, "x", URL, 1, batch_id="batch_1", remote_status="failed", errors=(error,))
    reason = failure_reason(replace(Job.new("c", "n", "e"), parts=(part,)))
    assert reason.startswith("batch batch_1 (x) failed: model_not_found: The model deployment")
    assert "To fix:" in reason and "AZURE_OPENAI_DEPLOYMENT" in reason


def test_a_quota_wait_says_for_what_until_when_and_what_helps():
    now = time.time()
    part = Part(0, "gpt-4.1-batch", URL, 1, file_id="f", wait_until=int(now) + 600,
                waiting_since=int(now) - 60, quota_tries=2)  # fmt: skip
    reason = waiting_reason(replace(Job.new("c", "n", "e"), parts=(part,)), now)
    assert "token_limit_exceeded" in reason and "gpt-4.1-batch" in reason
    assert "BATCH_QUOTA_DEADLINE_HOURS" in reason and "enqueued-token quota" in reason
    assert "upload the file again" not in reason  # it goes on by itself


def test_a_job_refused_for_quota_waits_with_the_reason_in_its_row():
    from shared.batches.service import QuotaExceeded

    deps = make_deps(FakeService(create_errors=[QuotaExceeded("full")]))
    job = submitting(deps)
    lifecycle.advance(deps, job)
    stored = deps.store.get(job.job_id)
    assert stored.status == JobStatus.WAITING and not stored.is_paused
    assert stored.last_error.startswith("waiting (token_limit_exceeded)")


def test_a_stuck_job_gets_its_reason_once_and_the_alert_names_it(caplog):
    deps = make_deps(BATCH_STUCK_HOURS="1")
    deps.service.batches["b0"] = RemoteBatch("b0", "in_progress", total=4, completed=1)
    part = Part(0, "dep", URL, 4, file_id="f0", batch_id="b0", remote_status="in_progress")
    job = replace(Job.new("in", "s.jsonl", "e"), status=JobStatus.IN_PROGRESS, parts=(part,))
    job = deps.store.create(replace(job, created_at=job.created_at - timedelta(hours=2)))
    with caplog.at_level(logging.ERROR):
        poll_all(deps)
    stored = deps.store.get(job.job_id)
    assert stored.last_error.startswith("stuck: open longer than BATCH_STUCK_HOURS (1 h)")
    assert "batch b0 (dep) is in_progress, 1/4 done" in stored.last_error
    assert any(ALERT in r.getMessage() and "stuck" in r.getMessage() for r in caplog.records)
    assert stuck_reason(stored, 1, time.time()).startswith("stuck:")


def test_the_pause_record_survives_the_table():
    deps = make_deps()
    job = deps.store.create(Job.new("in", "p.jsonl", "e"))
    pause = Pause(JobStatus.RECEIVED, "BATCH_WORK_CONTAINER", 10, 20, 3)
    deps.store.save(job.moved_to(JobStatus.WAITING, paused=pause))
    assert deps.store.get(job.job_id).paused == pause
