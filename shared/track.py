"""Tracking live batches: copy the service's status and progress into the job."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from .batch_api import RemoteBatch
from .complete import start_completion
from .deps import Deps
from .jobs import Job, Part, utcnow

log = logging.getLogger(__name__)

REQUEUE_AFTER = timedelta(minutes=10)


def refresh(deps: Deps, job: Job) -> Job:
    """IN_PROGRESS: read each live batch once; hand the job to completion when all ended."""
    updated = job
    for part in job.parts:
        if part.batch_id and not part.done:
            updated = updated.with_part(observed(part, deps.api.get_batch(part.batch_id)))
    if updated.parts != job.parts:
        job = deps.store.save(updated)
    if all(p.done for p in job.parts):
        return start_completion(deps, job)
    return job


def observed(part: Part, remote: RemoteBatch | None) -> Part:
    if remote is None:
        log.error("batch %s disappeared at the service", part.batch_id)
        error = {
            "code": "batch_not_found",
            "message": f"Batch {part.batch_id} no longer exists at the service.",
        }
        return replace(part, remote_status="failed", errors=(error,))
    return replace(
        part,
        remote_status=remote.status,
        completed=remote.completed,
        failed=remote.failed,
        output_file_id=remote.output_file_id,
        error_file_id=remote.error_file_id,
        errors=remote.errors,
        ended_at=remote.ended_at,
    )


def requeue_if_stale(deps: Deps, job: Job) -> Job:
    """COMPLETING: if the completion message was lost, send it again (completion is idempotent)."""
    if utcnow() - job.updated_at < REQUEUE_AFTER:
        return job
    log.warning(
        "job %s: completion not done after %s; queueing it again", job.job_id, REQUEUE_AFTER
    )
    return start_completion(deps, job)
