"""Entry points of the HTTP API: list jobs, show one, cancel one. Never returns prompt text."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from shared.jobs.model import Job, JobStatus, StopReason
from shared.storage.names import output_prefix

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)

MAX_LIST = 1000


def job_view(job: Job, output_container: str) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "status": job.status.value,
        "input": {"container": job.container, "name": job.name, "etag": job.etag},
        "output": f"{output_container}/{output_prefix(job.name)}/",
        "total": job.total,
        "succeeded": job.succeeded,
        "failed": job.failed,
        "batches": [
            {
                "id": p.batch_id,
                "deployment": p.deployment,
                "status": p.remote_status,
                "requests": p.count,
                "completed": p.completed,
                "failed": p.failed,
            }
            for p in job.parts
        ],
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
        "last_error": job.last_error or None,
    }


def list_jobs(deps: Deps, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    jobs = deps.store.all_jobs() if status != "open" else deps.store.open_jobs()
    views = []
    for job in jobs:
        if status in (None, "open") or job.status.value == status:
            views.append(job_view(job, deps.settings.output_container))
        if len(views) >= min(limit, MAX_LIST):
            break
    return sorted(views, key=lambda v: v["created_at"], reverse=True)


def get_job(deps: Deps, job_id: str) -> dict[str, Any] | None:
    job = deps.store.get(job_id)
    return job_view(job, deps.settings.output_container) if job else None


def cancel_job(deps: Deps, job_id: str) -> dict[str, Any] | None:
    """Ask the job's worker to cancel it: a request written beside the job, never over it, so
    the worker's own writes are not disturbed. The worker finds every batch the job has at
    the service (also one whose create answer was lost), cancels it and keeps its answers."""
    job = deps.store.get(job_id)
    if job is None:
        return None
    if job.is_terminal or job.status == JobStatus.COMPLETING:
        raise ValueError(
            f"job {job_id} is {job.status.value}; only received, submitting, waiting or "
            "in_progress jobs can be cancelled"
        )
    if not deps.store.request_stop(job_id, StopReason.CANCEL, "Cancelled through the HTTP API."):
        log.info("job %s: cancel already pending", job_id)
    return job_view(deps.store.get(job_id) or job, deps.settings.output_container)
