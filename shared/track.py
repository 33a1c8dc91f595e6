"""Tracking live batches: copy the service's status and progress into the job."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import timedelta

from .batch_api import RemoteBatch
from .complete import start_completion
from .deps import Deps
from .jobs import Job, Part, utcnow
from .submit import quota_wait

log = logging.getLogger(__name__)

MIN_REQUEUE_AFTER = timedelta(seconds=1)


def refresh_part(deps: Deps, part: Part) -> Part:
    """LIVE phase: one status call, at most every BATCH_STATUS_MIN_SECONDS per batch."""
    now = time.time()
    if part.checked_at and now - part.checked_at < deps.settings.status_min_seconds:
        return part
    seen = observed(part, deps.api.get_batch(part.batch_id or ""))
    seen = replace(seen, checked_at=int(now))
    if seen.remote_status == "failed" and _quota_refused(seen):
        log.warning("batch %s refused for token quota after validation; waiting", part.batch_id)
        return quota_wait(deps, seen)
    if seen.done and seen.file_id:
        # The input file is not needed once its batch ended: free the resource's file quota
        # now rather than when the whole job is merged.
        deps.api.delete_file(seen.file_id)
    return seen


def _quota_refused(part: Part) -> bool:
    return any(e.get("code") == "token_limit_exceeded" for e in part.errors)


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
    # Completion holds the lease while it works; once that ran out, its worker is gone.
    quiet = max(timedelta(seconds=deps.settings.lease_seconds), MIN_REQUEUE_AFTER)
    if utcnow() - job.updated_at < quiet:
        return job
    log.warning("job %s: completion not done after %s; queueing it again", job.job_id, quiet)
    return start_completion(deps, job)
