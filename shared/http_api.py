"""Entry points of the HTTP API: list jobs, show one, cancel one. Never returns prompt text."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from shared.jobs.model import ACTIVE, Job
from shared.jobs.store import Conflict
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
    """Ask the service to cancel each live batch; the poller then finishes the job as cancelled."""
    job = deps.store.get(job_id)
    if job is None:
        return None
    if job.status not in ACTIVE:
        raise ValueError(
            f"job {job_id} is {job.status.value}; only submitting, waiting or in_progress "
            "jobs can be cancelled"
        )
    try:
        job = deps.store.save(job.changed(cancel_requested=True))
    except Conflict:
        raise ValueError(f"job {job_id} changed while cancelling; try again") from None
    for part in job.parts:
        if part.batch_id and not part.done:
            deps.service.cancel_batch(part.batch_id)
            log.info("job %s: cancel requested for batch %s", job_id, part.batch_id)
    return job_view(job, deps.settings.output_container)
