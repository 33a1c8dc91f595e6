"""One step of a job: which use case runs in each state, under a short lease."""

from __future__ import annotations

import logging
from collections.abc import Callable

from .active import drive
from .complete import cleanup
from .deps import Deps
from .jobs import Job, JobStatus
from .prepare import prepare
from .store import Conflict, claim, release, release_quietly
from .track import is_stale, peek, requeue_if_stale

log = logging.getLogger(__name__)


Step = Callable[[Deps, Job], Job]
# Entering these states runs their step at once: a new file gets its batches without waiting
# for the next timer tick.
CHAINED = frozenset({JobStatus.SUBMITTING})
STEPS: dict[JobStatus, Step] = {
    JobStatus.RECEIVED: prepare,
    JobStatus.SUBMITTING: drive,
    JobStatus.WAITING: drive,
    JobStatus.IN_PROGRESS: drive,
    JobStatus.COMPLETING: requeue_if_stale,
}


def step_for(job: Job, stale_after: float) -> Step | None:
    if job.is_terminal:
        return None if job.cleaned else cleanup
    if job.status == JobStatus.COMPLETING and not is_stale(job, stale_after):
        return None  # completion owns it; claiming it here would only get in its way
    return STEPS.get(job.status)


def advance(deps: Deps, job: Job) -> Job:
    """Run the job's next step; a job leased by another worker is left alone."""
    step = step_for(job, deps.settings.lease_seconds)
    if step is None:
        return job
    if job.status == JobStatus.IN_PROGRESS:
        peeked = peek(deps, job)  # the common tick: progress only, one conditional write
        if peeked is not None:
            return peeked
    claimed = claim(deps.store, job, deps.settings.lease_seconds)
    if claimed is None:
        log.info("job %s is being worked on elsewhere; skipped", job.job_id)
        return job
    try:
        result = _run(deps, claimed, step)
    except Exception:
        release_quietly(deps.store, job.job_id, claimed.lease_owner)
        raise
    if result.lease_owner != claimed.lease_owner:
        return result  # the step handed the job on (e.g. to completion) with the lease off
    try:
        return deps.store.save(release(result))
    except Conflict:
        return result  # its work is saved; someone took the job on since


def _run(deps: Deps, job: Job, step: Step) -> Job:
    result = step(deps, job)
    while result.status != job.status and result.status in CHAINED:
        job, result = result, STEPS[result.status](deps, result)
    return result
