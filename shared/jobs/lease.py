"""The lease on a job: claim it before side effects, run the step, release it; written once."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from shared.jobs.model import Job, utcnow
from shared.jobs.store import Conflict, JobStore

log = logging.getLogger(__name__)


def claim(store: JobStore, job: Job, seconds: float) -> Job | None:
    """Take a lease on the job before side effects, so two workers never both act.

    Every later write by the holder extends the lease (see renewed), so a long step keeps it;
    a crashed holder's lease runs out `seconds` after its last write.
    """
    now = utcnow()
    if job.lease_until is not None and job.lease_until > now:
        return None
    leased = replace(
        job,
        lease_until=now + timedelta(seconds=seconds),
        lease_owner=uuid.uuid4().hex,
        lease_seconds=seconds,
    )
    try:
        # Not a state change: updated_at stays, so staleness checks still see real progress.
        return store.save(leased)
    except Conflict:
        return None


def release(job: Job) -> Job:
    return replace(job, lease_until=None, lease_owner="", lease_seconds=0.0)


def release_quietly(store: JobStore, job_id: str, owner: str) -> None:
    """After a failed step: let the next trigger or tick retry now, not when the lease ends.
    Only the lease's holder may do so: a lease taken over meanwhile is left alone."""
    current = store.get(job_id)
    if current is None or current.lease_owner != owner:
        return
    try:
        store.save(release(current))
    except Conflict:
        pass  # changed meanwhile: whoever changed it owns it, or the lease runs out


def run_leased(store: JobStore, job: Job, seconds: float, step: Callable[[Job], Job]) -> Job | None:
    """Claim the job, run `step` on the leased copy and release the lease; None when another
    worker holds it. A failing step releases at once, so the next trigger need not wait for the
    lease to run out; a step that hands the job on releases the lease itself."""
    claimed = claim(store, job, seconds)
    if claimed is None:
        return None
    try:
        result = step(claimed)
    except Exception:
        release_quietly(store, job.job_id, claimed.lease_owner)
        raise
    if result.lease_owner != claimed.lease_owner:
        return result
    try:
        return store.save(release(result))
    except Conflict:
        return result  # its work is saved; someone took the job on since
