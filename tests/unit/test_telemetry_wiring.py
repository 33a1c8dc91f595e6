"""The phase-1 telemetry called from where things happen, read back from the local telemetry
file: state changes from the store's writes, progress from the poller's progress save, quota
waits, open jobs and poison queues from the poll tick, and requests, tokens and cost per
deployment once a job's results are published. No prompt text in any of it."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import orjson
import pytest
from azure.core.exceptions import ResourceNotFoundError

from shared.batches.quota import quota_wait
from shared.batches.service import RemoteBatch
from shared.batches.track import save_progress
from shared.completion import complete_job
from shared.jobs.model import ALERT, Conflict, Job, JobStatus, Part
from shared.poll import BLOB_POISON, poll_all
from shared.telemetry import events
from shared.telemetry import metrics as m
from tests.fakes import FakeService, make_deps
from tests.unit.telemetry_kit import CANARY, recorded
from tests.unit.test_completion import Answers, completing_job

URL = "/v1/chat/completions"


def changes(telemetry) -> list[tuple[str, str]]:
    return [
        (e["attributes"]["previous_status"], e["attributes"]["status"])
        for e in telemetry.events(events.STATE_CHANGED)
    ]


def test_the_store_reports_each_state_change_once_with_the_state_it_was_read_in(tmp_path):
    deps = make_deps()
    with recorded(tmp_path) as telemetry:
        job = deps.store.create(Job.new("in", "a.jsonl", "e"))
        job = deps.store.save(job.moved_to(JobStatus.SUBMITTING))
        job = deps.store.save(job.changed(total=3))  # no state change: no event
        read = deps.store.get(job.job_id)
        deps.store.save(read.moved_to(JobStatus.IN_PROGRESS))
        assert changes(telemetry) == [("", "received"), ("received", "submitting"),
                                      ("submitting", "in_progress")]  # fmt: skip
        assert telemetry.total(events.STATE_CHANGES, status="in_progress") == 1


def test_a_write_that_loses_the_race_reports_nothing(tmp_path):
    deps = make_deps()
    job = deps.store.create(Job.new("in", "b.jsonl", "e"))
    deps.store.save(deps.store.get(job.job_id).changed(total=1))
    with recorded(tmp_path) as telemetry:
        with pytest.raises(Conflict):
            deps.store.save(replace(job, lease=None).moved_to(JobStatus.SUBMITTING))
        assert telemetry.events(events.STATE_CHANGED) == []


def test_the_pollers_progress_save_reports_progress_when_it_changes(tmp_path):
    deps = make_deps()
    deps.service.batches["b1"] = RemoteBatch("b1", "in_progress", total=4, completed=2)
    part = Part(0, "dep", URL, 4, file_id="f", batch_id="b1", remote_status="in_progress")
    job = deps.store.create(
        replace(Job.new("in", "p.jsonl", "e"), status=JobStatus.IN_PROGRESS, parts=(part,))
    )
    with recorded(tmp_path) as telemetry:
        saved = save_progress(deps, job)
        assert saved is not None and saved.parts[0].completed == 2
        again = save_progress(deps, saved)  # the same progress: saved, not reported again
        assert again is not None
        [event] = telemetry.events(events.PROGRESS)
        assert event["attributes"]["requests_completed"] == 2
        assert event["attributes"]["status"] == "in_progress"


def test_a_quota_refusal_is_counted_per_deployment(tmp_path):
    deps = make_deps()
    with recorded(tmp_path) as telemetry:
        waiting = quota_wait(deps, Part(0, "gpt-4.1-batch", URL, 1, file_id="f"))
        assert waiting.wait_until is not None
        quota_wait(deps, Part(1, "gpt-4.1-batch", URL, 1), "file_limit_reached")
        assert telemetry.total(m.QUOTA_WAITS, deployment="gpt-4.1-batch") == 1


class Queue:
    def __init__(self, count: int | None) -> None:
        self.count = count

    def get_queue_properties(self, **_kw):
        if self.count is None:
            raise ResourceNotFoundError("QueueNotFound")
        return type("Props", (), {"approximate_message_count": self.count})()


class Queues:
    def __init__(self, counts: dict[str, int | None]) -> None:
        self.counts = counts

    def get_queue_client(self, name: str) -> Queue:
        return Queue(self.counts.get(name))


def test_the_poll_tick_reports_open_jobs_by_state_and_age_and_poison_messages(tmp_path, caplog):
    deps = make_deps()
    completion_poison = deps.settings.completion_queue + "-poison"
    deps = replace(deps, queues=Queues({BLOB_POISON: None, completion_poison: 2}))
    old = Job.new("in", "old.jsonl", "e")
    old = replace(old, created_at=old.created_at - timedelta(hours=30), status=JobStatus.WAITING)
    part = Part(0, "dep", URL, 1, file_id="f", wait_until=2**40)  # waits long after this test
    deps.store.create(replace(old, parts=(part,)))
    with recorded(tmp_path) as telemetry, caplog.at_level(logging.ERROR):
        poll_all(deps)
        assert telemetry.last(m.JOBS_BY_STATE, status="waiting") == 1
        assert telemetry.last(m.JOBS_BY_STATE, status="in_progress") == 0
        assert telemetry.last(m.OPEN_JOBS, age="24h-48h") == 1
        assert telemetry.last(m.OPEN_JOBS, age="<1h") == 0
        assert telemetry.last(m.OLDEST_OPEN_JOB) >= 30 * 3600
        assert telemetry.last(m.POISON_MESSAGES, queue=completion_poison) == 2
        assert telemetry.last(m.POISON_MESSAGES, queue=BLOB_POISON) == 0
    alerts = [r.getMessage() for r in caplog.records if ALERT in r.getMessage()]
    assert len(alerts) == 1 and completion_poison in alerts[0]


def test_publishing_reports_requests_tokens_and_cost_per_deployment(tmp_path):
    """The served model (the answers' own `model`) prices the deployment; reasoning tokens
    are reported where the service gives them; no prompt text reaches the telemetry."""

    def answer(custom_id: str, status: int = 200) -> dict:
        usage = {
            "prompt_tokens": 1000,
            "completion_tokens": 500,
            "total_tokens": 1500,
            "completion_tokens_details": {"reasoning_tokens": 200},
        }
        body = {"model": "gpt-4o-mini-2024-07-18", "choices": [], "usage": usage}
        if status != 200:
            body = {"error": {"code": "bad", "message": CANARY}}
        return {"custom_id": custom_id, "response": {"status_code": status, "body": body}}

    deps = make_deps(Answers({"out-0": [answer("a"), answer("b"), answer("c", 400)]}))
    job = completing_job(deps, ["a", "b", "c"])
    with recorded(tmp_path) as telemetry:
        done = complete_job(deps, job.job_id)
        assert done is not None and done.status == JobStatus.COMPLETED
        assert telemetry.total(m.REQUESTS, deployment="dep", outcome="succeeded") == 2
        assert telemetry.total(m.REQUESTS, deployment="dep", outcome="failed") == 1
        assert telemetry.total(m.TOKENS, deployment="dep", direction="input") == 2000
        assert telemetry.total(m.TOKENS, deployment="dep", direction="output") == 1000
        assert telemetry.total(m.TOKENS, deployment="dep", direction="reasoning") == 400
        # gpt-4o-mini's example prices: 0.075 and 0.30 per 1M batch tokens, twice that online.
        batch = telemetry.total(m.COST, deployment="dep", model="gpt-4o-mini-2024-07-18",
                                price="batch")  # fmt: skip
        assert batch == pytest.approx(0.00045)
        assert telemetry.total(m.COST, deployment="dep", price="standard") == pytest.approx(0.0009)
        [final] = [e for e in telemetry.events(events.STATE_CHANGED)
                   if e["attributes"]["status"] == "completed"]  # fmt: skip
        assert final["attributes"]["estimated_cost"] == pytest.approx(0.00045)
        assert final["attributes"]["saving"] == pytest.approx(0.00045)
        assert CANARY not in telemetry.path.read_text()
    stored = deps.store.get(job.job_id)
    assert (stored.estimated_cost, stored.saving) == (pytest.approx(0.00045),) * 2


def test_summary_json_shows_the_cost_the_saving_and_how_it_was_priced():
    body = {
        "model": "o4-mini-2025-04-16",
        "usage": {"input_tokens": 100, "output_tokens": 60, "total_tokens": 160,
                  "output_tokens_details": {"reasoning_tokens": 40}},
    }  # fmt: skip
    line = {"custom_id": "a", "response": {"status_code": 200, "body": body}}
    deps = make_deps(Answers({"out-0": [line]}))
    job = completing_job(deps, ["a"])
    complete_job(deps, job.job_id)
    summary = orjson.loads(deps.output.blobs["q/summary.json"])
    assert summary["usage"]["reasoning_tokens"] == 40
    cost = summary["cost"]
    row = cost["by_deployment"]["dep"]
    assert (row["model"], row["input_tokens"], row["output_tokens"]) == ("o4-mini-2025-04-16",
                                                                         100, 60)  # fmt: skip
    assert row["reasoning_tokens"] == 40
    # o4-mini's example prices per 1M tokens: 1.10 in and 4.40 out online, half as a batch.
    assert cost["standard_cost"] == pytest.approx((100 * 1.10 + 60 * 4.40) / 1e6)
    assert cost["saving"] == pytest.approx(cost["standard_cost"] - cost["cost"])
    assert "examples, not promises" in cost["note"]


def test_own_prices_and_an_unknown_model_are_said_so():
    body = {"model": "my-finetune", "usage": {"prompt_tokens": 10, "completion_tokens": 5}}
    line = {"custom_id": "a", "response": {"status_code": 200, "body": body}}
    prices = '{"other": {"input": 1, "output": 1, "batch_input": 1, "batch_output": 1}}'
    deps = make_deps(Answers({"out-0": [line]}), BATCH_PRICES=prices)
    job = completing_job(deps, ["a"])
    done = complete_job(deps, job.job_id)
    cost = orjson.loads(deps.output.blobs["q/summary.json"])["cost"]
    assert cost["unpriced"] == ["dep"] and cost["cost"] == 0
    assert "BATCH_PRICES" in cost["note"]
    assert done is not None and done.estimated_cost == 0


def test_a_job_without_answers_has_no_model_and_no_price():
    deps = make_deps(FakeService(), BATCH_MAX_ATTEMPTS="1")
    job = completing_job(deps, ["a"], output_file_id=None)
    done = complete_job(deps, job.job_id)
    assert done is not None and done.status == JobStatus.COMPLETED
    assert orjson.loads(deps.output.blobs["q/summary.json"])["cost"]["by_deployment"] == {
        "dep": {
            "model": None,
            "input_tokens": 0,
            "output_tokens": 0,
            "reasoning_tokens": 0,
            "tokens": 0,
            "cost": None,
            "standard_cost": None,
            "prices": None,
        }
    }
