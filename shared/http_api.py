"""Entries of the HTTP API: list jobs (newest first, paged, filtered), show one (its last error,
requests waiting for its worker, its outputs), ask to cancel or retry one. Never returns prompt
text. Bad parameters raise BadRequest (400); what a job's state forbids, NotAllowed (409)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.jobs import listing
from shared.jobs.listing import JobSummary
from shared.jobs.model import TERMINAL, Job, JobStatus
from shared.lifecycle.operator import Asked, ask_cancel, ask_retry
from shared.lifecycle.reopen import Storage
from shared.storage.names import output_prefix
from shared.storage.outputs import FolderState, folder_state

if TYPE_CHECKING:
    from shared.deps import Deps

DEFAULT_LIMIT = 50
MAX_DIGITS = 6  # a limit longer than this is out of range anyway
OPEN = frozenset(set(JobStatus) - TERMINAL)  # `status=open`: not finished yet
VIA_API = "Asked through the HTTP API."


class BadRequest(ValueError):
    """A query parameter the API cannot use: HTTP 400 with this message."""


def statuses_for(status: str | None) -> frozenset[JobStatus] | None:
    """`open`, one state, or nothing (every job). Given but empty (`status=`) is no state: a
    client that meant a filter must not get every job instead."""
    if status is None:
        return None
    if status == "open":
        return OPEN
    try:
        return frozenset({JobStatus(status)})
    except ValueError:
        names = ", ".join(s.value for s in JobStatus)
        raise BadRequest(f"unknown status {status[:100]!r}: use open or one of {names}") from None


def list_jobs(deps: Deps, params: Mapping[str, str]) -> dict[str, Any]:
    """GET /api/jobs?status=&prefix=&limit=&next=: one page of jobs, newest first."""
    statuses = statuses_for(params.get("status"))
    raw = params.get("limit", str(DEFAULT_LIMIT))
    try:
        # Whole ASCII numbers of a few digits only: int() of "²" or of 5,000 digits raises
        # its own words, not the limit's.
        small = raw.isascii() and raw.isdigit() and len(raw) <= MAX_DIGITS
        limit = listing.check_limit(int(raw) if small else 0)
        prefix = listing.check_prefix(params.get("prefix") or "") or None
        after = params.get("next") or None
        if after is not None:
            listing.decode_token(after)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    page = deps.store.list_jobs(limit, statuses, prefix, after)
    output = deps.settings.output_container
    return {"jobs": [summary_view(s, output) for s in page.jobs], "next": page.next}


def summary_view(job: JobSummary, output_container: str) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "status": job.status.value,
        "input": {"container": job.container, "name": job.name, "etag": job.etag},
        "output": {"container": output_container, "folder": output_prefix(job.name)},
        "total": job.total,
        "succeeded": job.succeeded,
        "failed": job.failed,
        "requests_done": job.requests_done,
        "batch_count": job.batches,
        "deployments": list(job.deployments),
        "created_at": _time(job.created_at),
        "updated_at": _time(job.updated_at),
        "last_error": job.last_error or None,
        "stop_requested": job.stop_requested or None,
    }


def job_view(job: Job, output_container: str, state: FolderState | None = None) -> dict[str, Any]:
    """One job with its batches; with `state`, also who owns its output folder and which
    output files are there."""
    output: dict[str, Any] = {"container": output_container, "folder": output_prefix(job.name)}
    if state is not None:
        output.update(owner=state.owner, files=dict(state.files))
    return {
        "job_id": job.job_id,
        "status": job.status.value,
        "input": {"container": job.container, "name": job.name, "etag": job.etag},
        "output": output,
        "total": job.total,
        "succeeded": job.succeeded,
        "failed": job.failed,
        "batches": [
            {
                "id": p.batch_id,
                "deployment": p.deployment,
                "status": p.remote_status,
                "round": p.round,
                "requests": p.count,
                "completed": p.completed,
                "failed": p.failed,
            }
            for p in job.parts
        ],
        "created_at": _time(job.created_at),
        "updated_at": _time(job.updated_at),
        "last_error": job.last_error or None,
        "stop": _stop(job),
        "retry": _retry(job),
    }


def get_job(deps: Deps, job_id: str) -> dict[str, Any] | None:
    job = deps.store.get(job_id)
    if job is None:
        return None
    return job_view(job, deps.settings.output_container, folder_state(deps.output, job.name))


def cancel_job(deps: Deps, job_id: str) -> dict[str, Any] | None:
    """Ask the job's worker to cancel it: a request written beside the job, never over it, so
    the worker's own writes are not disturbed. The worker finds every batch the job has at
    the service (also one whose create answer was lost), cancels it and keeps its answers."""
    return answer(deps, ask_cancel(deps.store, job_id, VIA_API))


def retry_job(deps: Deps, job_id: str) -> dict[str, Any] | None:
    """Ask the worker of a finished job to send every failed request again (lifecycle/reopen.py)."""
    return answer(deps, ask_retry(Storage.of(deps), job_id, VIA_API))


def answer(deps: Deps, asked: Asked | None) -> dict[str, Any] | None:
    if asked is None:
        return None
    view = job_view(asked.job, deps.settings.output_container)
    return {"requested": asked.requested, "message": asked.message, "job": view}


def _stop(job: Job) -> dict[str, Any] | None:
    if job.stop is None:
        return None
    return {
        "reason": job.stop.reason.value,
        "detail": job.stop.detail,
        "requested_at": _time(job.stop.requested_at),
    }


def _retry(job: Job) -> dict[str, Any] | None:
    if job.retry is None:
        return None
    return {"detail": job.retry.detail, "requested_at": _time(job.retry.requested_at)}


def _time(moment: datetime) -> str:
    return moment.isoformat()
