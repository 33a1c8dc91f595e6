"""The lifecycle's driver: the step for each job state, run under the job's lease."""

from __future__ import annotations

import logging
from collections.abc import Callable

from shared.batches.active import advance_active
from shared.batches.track import save_progress
from shared.deps import Deps
from shared.jobs.lease import run_leased
from shared.jobs.model import Job, JobStatus
from shared.lifecycle.cleanup import cleanup
from shared.lifecycle.handover import hand_to_completion, is_stale, requeue_if_stale
from shared.lifecycle.prepare import prepare

log = logging.getLogger(__name__)


Step = Callable[[Deps, Job], Job]
# Entering these states runs their step at once: a new file gets its batches without waiting
# for the next timer tick.
CHAINED = frozenset({JobStatus.SUBMITTING})
STEPS: dict[JobStatus, Step] = {
    JobStatus.RECEIVED: prepare,
    JobStatus.SUBMITTING: advance_active,
    JobStatus.WAITING: advance_active,
    JobStatus.IN_PROGRESS: advance_active,
    JobStatus.COMPLETING: requeue_if_stale,
}


def step_for(job: Job, stale_after: float) -> Step | None:
    """The step the job's state calls for; None when there is nothing to do."""
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
        progressed = save_progress(deps, job)  # the common tick: one conditional write
        if progressed is not None:
            return progressed
    done = run_leased(deps.store, job, deps.settings.lease_seconds, lambda j: _run(deps, j, step))
    if done is None:
        log.info("job %s is being worked on elsewhere; skipped", job.job_id)
        return job
    return done


def _run(deps: Deps, job: Job, step: Step) -> Job:
    start, result = job, step(deps, job)
    while result.status != job.status and result.status in CHAINED:
        job, result = result, STEPS[result.status](deps, result)
    if result.status == JobStatus.COMPLETING and start.status != JobStatus.COMPLETING:
        return hand_to_completion(deps, result)
    return result
