"""JobStateChanged: one event per state change, with ids, names, counts and durations, read
only from the fields the store keeps about a job, never from request or answer text."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace

import pytest

from shared.jobs.model import TERMINAL, Job, JobStatus, Part
from shared.telemetry import events
from shared.telemetry.events import (
    FINISHED,
    MAX_PARTS,
    STATE_CHANGED,
    STATE_CHANGES,
    UPLOAD_TO_RESULTS,
    job_event,
    job_progressed,
    job_state_changed,
)
from tests.unit.telemetry_kit import CANARY, recorded

# What the event builder may read (the brief to the store: keep these).
JOB_FIELDS = (
    "job_id",
    "container",
    "name",
    "status",
    "parts",
    "total",
    "succeeded",
    "failed",
    "created_at",
    "updated_at",
    "last_error",
    "estimated_cost",
    "saving",
)
PART_FIELDS = ("deployment", "batch_id", "count", "completed", "failed", "remote_status")


def a_job(**changes) -> Job:
    job = Job.new("batch-input", "team/q3/questions.jsonl", '"0x8DC"')
    parts = (
        Part(0, "gpt-4o-mini-batch", "/chat/completions", 600, batch_id="batch_a", completed=590,
             failed=10, remote_status="completed"),
        Part(1, "gpt-4.1-batch", "/chat/completions", 400, batch_id="batch_b", completed=100,
             remote_status="in_progress"),
    )  # fmt: skip
    job = replace(job, status=JobStatus.IN_PROGRESS, parts=parts, total=1000)
    job = replace(job, updated_at=job.created_at + timedelta(minutes=90))
    return replace(job, **changes)


def canary_job() -> Job:
    """Prompt text wherever a careless builder might find it: warnings, service errors kept on
    a part, intent records, file ids, the lease owner. None of it may reach telemetry."""
    job = a_job(warnings=(CANARY,), etag=CANARY)
    part = replace(
        job.parts[0],
        errors=({"code": "invalid_request", "message": CANARY, "line": 3},),
        uploading=CANARY,
        file_id=CANARY,
        output_file_id=CANARY,
        error_file_id=CANARY,
        url=CANARY,
    )
    return replace(job, parts=(part, job.parts[1]))


def test_finished_states_match_the_job_model():
    assert {status.value for status in TERMINAL} == FINISHED


def test_the_event_names_the_job_its_input_batches_counts_and_durations():
    event = job_event(a_job(), JobStatus.SUBMITTING)
    assert event["job_id"] == a_job().job_id
    assert (event["status"], event["previous_status"]) == ("in_progress", "submitting")
    assert (event["input_container"], event["input_name"]) == (
        "batch-input",
        "team/q3/questions.jsonl",
    )
    assert event["deployments"] == "gpt-4.1-batch,gpt-4o-mini-batch"
    assert event["batch_ids"] == "batch_a,batch_b"
    assert (event["batches"], event["requests"]) == (2, 1000)
    assert (event["requests_completed"], event["requests_failed"]) == (690, 10)
    assert event["age_seconds"] == 5400.0
    assert "upload_to_results_seconds" not in event, "the job has not finished"
    parts = json.loads(event["parts"])
    assert parts[0] == {
        "deployment": "gpt-4o-mini-batch",
        "batch_id": "batch_a",
        "requests": 600,
        "completed": 590,
        "failed": 10,
        "status": "completed",
    }


def test_reaching_a_final_state_measures_upload_to_results():
    job = a_job(status=JobStatus.COMPLETED, succeeded=990, failed=10)
    event = job_event(job, "completing")
    assert event["upload_to_results_seconds"] == 5400.0
    assert (event["succeeded"], event["failed"]) == (990, 10)
    # Cleaning up a finished job is no second arrival.
    assert "upload_to_results_seconds" not in job_event(job, JobStatus.COMPLETED)


def test_a_new_job_has_no_previous_state():
    event = job_event(Job.new("c", "n.jsonl", "e"), None)
    assert (event["previous_status"], event["status"], event["batches"]) == ("", "received", 0)
    assert json.loads(event["parts"]) == []


def test_the_builder_reads_only_the_fields_it_was_promised():
    """A stand-in with nothing but the promised fields: reading anything else fails here."""
    job = a_job(last_error="token_limit_exceeded: waiting for quota")
    part_view = [SimpleNamespace(**{f: getattr(p, f) for f in PART_FIELDS}) for p in job.parts]
    view = SimpleNamespace(**{f: getattr(job, f) for f in JOB_FIELDS if f != "parts"})
    view.parts = tuple(part_view)
    assert job_event(view, "waiting") == job_event(job, "waiting")  # type: ignore[arg-type]


def test_no_prompt_text_reaches_the_event():
    event = job_event(canary_job(), JobStatus.SUBMITTING)
    assert CANARY not in json.dumps(event)


def test_long_values_stay_within_what_application_insights_keeps():
    many = tuple(
        Part(i, f"dep-{i % 3}", "/chat/completions", 1, batch_id=f"batch_{i:06d}")
        for i in range(1000)
    )
    job = a_job(parts=many, name="x/" + "n" * 5000, last_error="e" * 5000)
    event = job_event(job, JobStatus.SUBMITTING)
    assert event["batches"] == 1000
    assert len(json.loads(event["parts"])) == MAX_PARTS
    for key, value in event.items():
        assert len(str(value)) <= 8192, key  # the exporter's cut-off per property


def test_events_and_metrics_reach_the_local_file(tmp_path):
    with recorded(tmp_path) as telemetry:
        job = a_job()
        job_state_changed(job, JobStatus.SUBMITTING)
        finished = replace(job, status=JobStatus.COMPLETED, succeeded=990, failed=10)
        job_state_changed(finished, JobStatus.COMPLETING)
        job_progressed(job)
        changed = telemetry.events(STATE_CHANGED)
        assert [e["attributes"]["status"] for e in changed] == ["in_progress", "completed"]
        assert changed[0]["attributes"]["job_id"] == job.job_id
        assert changed[0]["severity"] == "INFO"
        assert [e["attributes"]["status"] for e in telemetry.events(events.PROGRESS)] == [
            "in_progress"
        ]
        assert telemetry.total(STATE_CHANGES, status="completed", previous_status="completing") == 1
        [duration] = telemetry.metrics(UPLOAD_TO_RESULTS, status="completed")
        assert (duration["count"], duration["sum"]) == (1, 5400.0)


def test_no_prompt_text_reaches_the_file(tmp_path):
    with recorded(tmp_path) as telemetry:
        job_state_changed(canary_job(), JobStatus.SUBMITTING)
        job_progressed(canary_job())
        assert len(telemetry.events()) == 2
        assert CANARY not in telemetry.path.read_text()


def test_a_broken_job_never_stops_the_caller(caplog):
    with caplog.at_level(logging.WARNING, logger="shared.telemetry.events"):
        job_state_changed(object(), "received")  # type: ignore[arg-type]
        job_progressed(None)  # type: ignore[arg-type]
    assert len([r for r in caplog.records if "could not report" in r.getMessage()]) == 2


@pytest.mark.parametrize("previous", [JobStatus.RECEIVED, "received"])
def test_previous_status_as_enum_or_text(previous):
    assert job_event(a_job(), previous)["previous_status"] == "received"


def test_finished_states_are_the_job_models_terminal_ones():
    from shared.jobs.model import TERMINAL
    from shared.telemetry.events import FINISHED

    assert {s.value for s in TERMINAL} == FINISHED
