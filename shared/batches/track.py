"""Tracking live batches: copy the service's status and progress into the job."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shared.batches.access import made_elsewhere
from shared.batches.quota import quota_wait
from shared.batches.service import RemoteBatch
from shared.jobs.model import ALERT, Conflict, Job, utcnow
from shared.jobs.part import Part, PartPhase
from shared.telemetry import events

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)

MAX_ERRORS = 20  # a batch's validation errors kept in the job row (table strings are 64 KiB)


def _short(error: dict[str, Any]) -> dict[str, Any]:
    return {k: (v[:500] if isinstance(v, str) else v) for k, v in error.items()}


def refresh_part(deps: Deps, part: Part) -> Part:
    """LIVE phase: one status call, at most every BATCH_STATUS_MIN_SECONDS per batch."""
    now = time.time()
    if _recent(deps, part, now):
        return part
    seen = observed(part, remote_batch(deps, part))
    seen = replace(seen, checked_at=int(now))
    if seen.remote_status == "failed" and _quota_refused(seen):
        log.warning("batch %s refused for token quota after validation; waiting", part.batch_id)
        for file_id in (seen.output_file_id, seen.error_file_id):
            if file_id:  # the refused batch's files would be forgotten by the next try
                deps.service.delete_file(file_id)
        return quota_wait(deps, replace(seen, output_file_id=None, error_file_id=None))
    if seen.done and seen.file_id:
        # The input file is not needed once its batch ended: free the resource's file quota
        # now rather than when the whole job is merged.
        deps.service.delete_file(seen.file_id)
    return seen


def save_progress(deps: Deps, job: Job) -> Job | None:
    """IN_PROGRESS without a lease: read the live batches and save their progress with a
    conditional write (nothing else is touched, so no lease is needed). None when a batch
    ended or failed: that needs the full step, which holds the lease for its side effects."""
    if job.stopping or _leased(deps, job):
        return None
    now = time.time()
    if any(p.phase(now) not in (PartPhase.LIVE, PartPhase.DONE) for p in job.parts):
        return None
    updated = job
    for part in job.parts:
        if part.phase(now) != PartPhase.LIVE or _recent(deps, part, now):
            continue
        seen = observed(part, remote_batch(deps, part))
        if seen.done:
            return None
        updated = updated.with_part(replace(seen, checked_at=int(now)))
    return job if updated.parts == job.parts else _save(deps, job, updated)


def _save(deps: Deps, job: Job, updated: Job) -> Job:
    try:
        saved = deps.store.save(updated)
    except Conflict:
        return job  # someone else moved it on; the next tick reads it afresh
    if _progress(saved) != _progress(job):  # an event per change, not per tick
        events.job_progressed(saved)
    return saved


def _progress(job: Job) -> list[tuple[str | None, int, int]]:
    return [(p.remote_status, p.completed, p.failed) for p in job.parts]


def _leased(deps: Deps, job: Job) -> bool:
    lease = job.lease
    return lease is not None and lease.held_by_other(utcnow(), deps.settings.clock_skew_seconds)


def _recent(deps: Deps, part: Part, now: float) -> bool:
    return bool(part.checked_at and now - part.checked_at < deps.settings.status_min_seconds)


def _quota_refused(part: Part) -> bool:
    return any(e.get("code") == "token_limit_exceeded" for e in part.errors)


def remote_batch(deps: Deps, part: Part) -> RemoteBatch | None:
    """The part's batch at the service; None when it is gone. A 404 from another endpoint
    than the one that made it is a wrong AZURE_OPENAI_ENDPOINT: raised, the job waits."""
    remote = deps.service.get_batch(part.batch_id or "")
    problem = made_elsewhere(part, deps.settings) if remote is None else None
    if problem is not None:
        raise problem
    return remote


def observed(part: Part, remote: RemoteBatch | None) -> Part:
    if remote is None:
        log.error("%s batch %s disappeared at the service", ALERT, part.batch_id)
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
        errors=tuple(_short(e) for e in remote.errors[:MAX_ERRORS]),
        ended_at=remote.ended_at,
    )
