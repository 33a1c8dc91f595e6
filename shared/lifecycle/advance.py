"""The lifecycle's driver: the step for each job state, run under the job's lease."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from shared.batches.active import advance_active
from shared.batches.settle import unsettled
from shared.batches.track import save_progress
from shared.deps import Deps
from shared.jobs.lease import run_leased
from shared.jobs.model import Job, JobStatus, StopReason
from shared.lifecycle.cleanup import cleanup, close_anyway
from shared.lifecycle.give_up import give_up, lost, supersede
from shared.lifecycle.handover import hand_to_completion, is_stale, requeue_if_stale
from shared.lifecycle.pause import config_problem, end_wait, overdue, pause
from shared.lifecycle.prepare import prepare
from shared.lifecycle.reopen import reopen
from shared.misconfig import Misconfigured, WorkLost

log = logging.getLogger(__name__)


Step = Callable[[Deps, Job], Job]
# Entering these states runs their step at once: a new file gets its batches without waiting
# for the next timer tick, and a finished job is cleaned up in the same step.
CHAINED = frozenset({JobStatus.SUBMITTING})
STEPS: dict[JobStatus, Step] = {
    JobStatus.RECEIVED: prepare,
    JobStatus.SUBMITTING: advance_active,
    JobStatus.WAITING: advance_active,
    JobStatus.IN_PROGRESS: advance_active,
    JobStatus.COMPLETING: requeue_if_stale,
}


def step_for(job: Job, settings_lease: float, max_failures: int) -> Step | None:
    """The step the job's state calls for; None when there is nothing to do."""
    if job.is_terminal:
        if not job.cleaned:
            # A batch that may still run (or was never found) keeps its clean-up going: closing
            # the job would leave it billed and untracked (I10).
            gave_up = job.step_failures >= max_failures and not unsettled(job)
            return close_anyway if gave_up else cleanup
        return reopen if job.retry is not None else None  # a person asked to retry it
    if job.step_failures >= max_failures:
        return give_up
    if job.is_paused:
        return _paused_step(job)
    if superseded(job) and job.status == JobStatus.RECEIVED:
        return supersede  # nothing was read or sent yet
    if job.status == JobStatus.COMPLETING and not is_stale(job, settings_lease):
        return None  # completion owns it; claiming it here would only get in its way
    return STEPS.get(job.status)


def _paused_step(job: Job) -> Step | None:
    """A job waiting for a setting: its step again once the wait is over."""
    assert job.paused is not None
    if superseded(job) and job.paused.resume == JobStatus.RECEIVED:
        return supersede
    return resume if time.time() >= job.paused.retry_at else None


def resume(deps: Deps, job: Job) -> Job:
    """The step of the state the job paused in, as if it had never left it; a success ends the
    wait, another configuration error continues it (see `_run`)."""
    assert job.paused is not None
    if overdue(job, deps.settings):
        return end_wait(deps, job)
    state = job.paused.resume
    step = hand_to_completion if state == JobStatus.COMPLETING else STEPS[state]
    result = _steps(deps, replace(job, status=state, last_error=""), step)
    if result.paused is not None and result.lease is not None and result.lease.mine:
        result = replace(result, paused=None)  # saved with the lease's release
    return result


def superseded(job: Job) -> bool:
    return job.stop is not None and job.stop.reason == StopReason.SUPERSEDED


def advance(deps: Deps, job: Job) -> Job:
    """Run the job's next step; a job leased by another worker is left alone."""
    s = deps.settings
    step = step_for(job, s.lease_seconds, s.max_step_failures)
    if step is None:
        return job
    if job.status == JobStatus.IN_PROGRESS and step is advance_active:
        try:
            progressed = save_progress(deps, job)  # the common tick: one conditional write
        except Misconfigured:
            progressed = None  # the leased step meets it again, and makes the job wait
        if progressed is not None:
            return progressed
    done = run_leased(
        deps.store, job, s.lease_seconds, s.clock_skew_seconds, lambda j: _run(deps, j, step)
    )
    if done is None:
        log.info("job %s is being worked on elsewhere; skipped", job.job_id)
        return job
    return done


def _run(deps: Deps, job: Job, step: Step) -> Job:
    """The step and what it chains to; a resumed step chains from the state it resumes
    (resume runs `_steps` itself)."""
    return pausing(
        deps, job, lambda: resume(deps, job) if step is resume else _steps(deps, job, step)
    )


def pausing(deps: Deps, job: Job, work: Callable[[], Job]) -> Job:
    """Run a leased step: a configuration error pauses the job instead of counting as the
    step's failure (it is nothing about the job); work files that are gone fail it at once."""
    try:
        return work()
    except WorkLost as gone:
        return lost(deps, job, gone.reason)  # nothing to wait for
    except Exception as exc:
        problem = config_problem(exc, deps.settings)
        if problem is None:
            raise
        return pause(deps, job, problem)


def _steps(deps: Deps, job: Job, step: Step) -> Job:
    start, result = job, step(deps, job)
    while result.status != job.status and result.status in CHAINED:
        job, result = result, STEPS[result.status](deps, result)
    if result.status == JobStatus.COMPLETING and start.status != JobStatus.COMPLETING:
        if superseded(result):
            result = supersede(deps, result)  # its batches ended: no merge, no outputs
        else:
            return hand_to_completion(deps, result)
    if result.is_terminal and not result.cleaned:
        return cleanup(deps, result)
    return result
