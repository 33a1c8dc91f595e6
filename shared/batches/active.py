"""The step of active jobs: send what is unsent, track what is live, derive the job's state."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from shared.batches.submit import submit_part
from shared.batches.track import refresh_part
from shared.jobs.model import Job, PartPhase, derived_status

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)


def advance_active(deps: Deps, job: Job) -> Job:
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
    # Progress and a new state are saved by the lifecycle together with the lease's release;
    # COMPLETING (every batch ended) is handed to completion there.
    return _settle(job.job_id, tracked)


def _cancel_unsent(deps: Deps, job: Job) -> Job:
    """A cancelled job sends nothing more: parts without a batch end as cancelled."""
    unsent = [p for p in job.parts if not p.done and not p.batch_id]
    for part in unsent:
        if part.file_id:
            deps.service.delete_file(part.file_id)
        job = job.with_part(replace(part, remote_status="cancelled", uploading=None))
    return deps.store.save(job) if unsent else job


def _settle(job_id: str, job: Job) -> Job:
    status = derived_status(job.parts, time.time())
    if status != job.status:
        log.info("job %s: %s -> %s", job_id, job.status.value, status.value)
        return job.moved_to(status)
    return job
