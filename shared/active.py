"""The step for active jobs: send what is unsent, track what is live, derive the job's state."""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from .complete import start_completion
from .deps import Deps
from .jobs import Job, JobStatus, PartPhase, derived_status
from .submit import submit_part
from .track import refresh_part

log = logging.getLogger(__name__)


def drive(deps: Deps, job: Job) -> Job:
    """SUBMITTING, WAITING or IN_PROGRESS: move every part one phase on where it can."""
    if job.cancel_requested:
        job = _cancel_unsent(deps, job)
    for part in job.parts:
        if part.phase(time.time()) in (PartPhase.UPLOAD, PartPhase.CREATE):
            job = submit_part(deps, job, part)
    tracked = job
    for part in job.parts:
        if part.phase(time.time()) == PartPhase.LIVE:
            tracked = tracked.with_part(refresh_part(deps, part))
    # Progress and a new state are saved by advance together with the lease's release.
    return _settle(deps, tracked)


def _cancel_unsent(deps: Deps, job: Job) -> Job:
    """A cancelled job sends nothing more: parts without a batch end as cancelled."""
    unsent = [p for p in job.parts if not p.done and not p.batch_id]
    for part in unsent:
        if part.file_id:
            deps.api.delete_file(part.file_id)
        job = job.with_part(replace(part, remote_status="cancelled", uploading=None))
    return deps.store.save(job) if unsent else job


def _settle(deps: Deps, job: Job) -> Job:
    status = derived_status(job.parts, time.time())
    if status == JobStatus.COMPLETING:
        return start_completion(deps, job)
    if status != job.status:
        log.info("job %s: %s -> %s", job.job_id, job.status.value, status.value)
        return job.moved_to(status)
    return job
