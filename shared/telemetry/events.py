"""JobStateChanged and JobProgress: one structured event per job state change (and, if asked,
per progress save) with ids, names, counts and durations; never request or answer text.

The event is a log record carrying `microsoft.custom_event.name`, which the Azure Monitor
exporter sends as a custom event (table AppEvents; Microsoft Learn, "Add and modify Azure
Monitor OpenTelemetry", Send custom events). Its attributes become the event's Properties.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics

if TYPE_CHECKING:
    from shared.jobs.model import Job, JobStatus

LOGGER = "batchdrop.telemetry"
CUSTOM_EVENT = "microsoft.custom_event.name"
STATE_CHANGED = "JobStateChanged"
PROGRESS = "JobProgress"
STATE_CHANGES = "batchdrop.jobs.state_changes"
UPLOAD_TO_RESULTS = "batchdrop.jobs.upload_to_results"

# The job's final states, as strings: this module may not import the job model at run time
# (the store imports it). tests/unit/test_telemetry_events.py keeps it equal to TERMINAL.
FINISHED = frozenset(
    {"rejected", "completed", "failed", "cancelled", "expired", "superseded", "skipped"}
)
MAX_TEXT = 1000  # characters of a name or error; Application Insights keeps 8,192 per property
MAX_PARTS = 20  # batches listed in `parts`; `batches` still counts them all

events = logging.getLogger(LOGGER)
log = logging.getLogger(__name__)
_meter = metrics.get_meter("batchdrop")
_changes = _meter.create_counter(
    STATE_CHANGES, unit="{change}", description="Job state changes, by new and previous state"
)
_upload_to_results = _meter.create_histogram(
    UPLOAD_TO_RESULTS, unit="s", description="From a job's upload to its final state"
)


def job_state_changed(job: Job, previous_status: JobStatus | str | None) -> None:
    """Report a job that moved from `previous_status` (None: a new job) to `job.status`.
    Never raises: telemetry must not stop a job."""
    try:
        event = job_event(job, previous_status)
        _emit(STATE_CHANGED, event)
        _changes.add(1, {"status": event["status"], "previous_status": event["previous_status"]})
        if "upload_to_results_seconds" in event:
            _upload_to_results.record(
                event["upload_to_results_seconds"], {"status": event["status"]}
            )
    except Exception:  # noqa: BLE001 - a broken event must not fail a state change
        log.warning("telemetry: could not report the state change of a job", exc_info=True)


def job_progressed(job: Job) -> None:
    """Report a job's progress without a state change (the poller's progress saves)."""
    try:
        _emit(PROGRESS, job_event(job, job.status))
    except Exception:  # noqa: BLE001
        log.warning("telemetry: could not report the progress of a job", exc_info=True)


def job_event(job: Job, previous_status: JobStatus | str | None) -> dict[str, Any]:
    """The event's attributes. Reads only ids, names, statuses, counts, times, last_error and
    the estimated cost."""
    status, previous = _text(job.status), _text(previous_status)
    parts = list(job.parts)
    event: dict[str, Any] = {
        "job_id": job.job_id,
        "status": status,
        "previous_status": previous,
        "input_container": job.container,
        "input_name": job.name[:MAX_TEXT],
        "deployments": ",".join(sorted({p.deployment for p in parts})),
        "batch_ids": ",".join(p.batch_id for p in parts if p.batch_id)[:MAX_TEXT],
        "batches": len(parts),
        "requests": job.total,
        "requests_completed": sum(p.completed for p in parts),
        "requests_failed": sum(p.failed for p in parts),
        "succeeded": job.succeeded,
        "failed": job.failed,
        "created_at": _iso(job.created_at),
        "updated_at": _iso(job.updated_at),
        "age_seconds": _seconds(job.created_at, job.updated_at),
        "last_error": (job.last_error or "")[:MAX_TEXT],
        "parts": json.dumps([_part(p) for p in parts[:MAX_PARTS]], separators=(",", ":")),
    }
    if status in FINISHED and previous not in FINISHED:
        # Once per upload: a person's retry ends the job again, but its upload was long ago;
        # that run's own time is retry_to_results_seconds (not in the histogram or the
        # workbook's slowest jobs, which would count the job twice).
        if job.reopened_at is None:
            event["upload_to_results_seconds"] = event["age_seconds"]
        else:
            event["retry_to_results_seconds"] = _seconds(job.reopened_at, job.updated_at)
    if job.estimated_cost is not None:  # USD, once the results are merged
        event["estimated_cost"] = job.estimated_cost
        event["saving"] = job.saving if job.saving is not None else 0.0
    return event


def _part(part: Any) -> dict[str, Any]:
    return {
        "deployment": part.deployment,
        "batch_id": part.batch_id,
        "requests": part.count,
        "completed": part.completed,
        "failed": part.failed,
        "status": part.remote_status,
    }


def _emit(name: str, event: dict[str, Any]) -> None:
    events.info(
        "%s: job %s %s -> %s",
        name,
        event["job_id"],
        event["previous_status"] or "new",
        event["status"],
        extra={CUSTOM_EVENT: name, **event},
    )


def _text(status: object) -> str:
    """A status enum's value, a plain string, or "" for none."""
    if status is None:
        return ""
    return str(getattr(status, "value", status))


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _seconds(start: datetime, end: datetime) -> float:
    return round(max((end - start).total_seconds(), 0.0), 3)
