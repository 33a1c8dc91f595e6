"""Entry point of the queue trigger: complete a job whose batches all ended, under its lease."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shared.jobs.lease import run_leased
from shared.jobs.model import Job, JobStatus
from shared.lifecycle.advance import pausing, superseded
from shared.lifecycle.cleanup import cleanup
from shared.lifecycle.give_up import give_up, supersede
from shared.results.collect import collect
from shared.results.complete import finish_round

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)


class Busy(Exception):
    """Another worker holds the job; try again later."""


def complete_job(deps: Deps, job_id: str) -> Job | None:
    """One completion message; a repeated message finds the job done and returns."""
    job = deps.store.get(job_id)
    if job is None or job.status != JobStatus.COMPLETING:
        log.info("job %s: nothing to complete (%s)", job_id, job.status if job else "no job")
        return job
    s = deps.settings
    finished = run_leased(
        deps.store, job, s.lease_seconds, s.clock_skew_seconds, lambda j: _finish(deps, j)
    )
    if finished is None:
        # Raise so the queue delivers the message again later: if the holder finishes, that
        # delivery finds the job done; if it died, its lease will have run out.
        raise Busy(f"job {job_id} is being worked on; completion will be retried")
    return finished


def _finish(deps: Deps, job: Job) -> Job:
    """The merge; a configuration error (a wrong key, a missing output container) pauses the
    job, and the message is done with: the poller hands the job over again once it resumes."""
    return pausing(deps, job, lambda: _merge(deps, job))


def _merge(deps: Deps, job: Job) -> Job:
    if job.step_failures >= deps.settings.max_step_failures:
        return cleanup(deps, give_up(deps, job))
    if superseded(job):
        return cleanup(deps, supersede(deps, job))  # a newer upload owns the outputs
    done = finish_round(deps, collect(deps, job))
    return cleanup(deps, done) if done.is_terminal else done
