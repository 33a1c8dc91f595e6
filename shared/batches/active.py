"""The step of active jobs: send what is unsent, track what is live, derive the job's state."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from shared.batches.parallel import each_part, in_parallel
from shared.batches.stop import stop_parts
from shared.batches.submit import submit_part
from shared.batches.track import refresh_part
from shared.jobs.explain import waiting_reason
from shared.jobs.model import Job, JobStatus, derived_status
from shared.jobs.part import PartPhase

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)


def advance_active(deps: Deps, job: Job) -> Job:
    """SUBMITTING, WAITING or IN_PROGRESS: move every part one phase on where it can; a
    stopped job sends nothing more and cancels what runs."""
    if job.stop is not None:
        job = stop_parts(deps, job)
    now = time.time()
    sending = [p for p in job.parts if p.phase(now) in (PartPhase.UPLOAD, PartPhase.CREATE)]
    # A stopped job sends nothing more; a tick out of time leaves the rest to the next one.
    job = each_part(
        deps, job, sending, submit_part, until=lambda j: j.stop is not None or deps.out_of_time()
    )
    now = time.time()
    live = [p for p in job.parts if p.phase(now) == PartPhase.LIVE]
    tracked = job
    for part in in_parallel(lambda p: refresh_part(deps, p), live):
        tracked = tracked.with_part(part)
    # Progress and a new state are saved by the lifecycle together with the lease's release;
    # COMPLETING (every batch ended) is handed to completion there.
    return _settle(job.job_id, tracked)


def _settle(job_id: str, job: Job) -> Job:
    """The state the parts' phases make; while waiting for quota, last_error says for what
    and until when (and says nothing of it once the wait is over)."""
    now = time.time()
    status = derived_status(job.parts, now)
    reason = waiting_reason(job, now) if status == JobStatus.WAITING else ""
    last_error = reason or ("" if job.status == JobStatus.WAITING else job.last_error)
    if status != job.status:
        log.info("job %s: %s -> %s", job_id, job.status.value, status.value)
        return job.moved_to(status, last_error=last_error)
    return job if last_error == job.last_error else job.changed(last_error=last_error)
