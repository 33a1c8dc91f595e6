"""A finished job's batches, before its clean-up. A job can end while batches of its own still
run at the service: it gave up (a step kept failing) while another part ran, or while a
create whose answer was lost could not be looked up. Its clean-up first finds and cancels
them (batches/stop.py) and follows each until it has ended, so that the output and error
files the service writes on ending are deleted with the rest and nothing billed is left
running or untracked (I6, I10)."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from shared.batches.stop import stop_parts
from shared.batches.track import observed
from shared.jobs.model import Job
from shared.jobs.part import Part

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)


def unsettled(job: Job) -> bool:
    """Whether a part may still have something at the service the job does not know of, or a
    batch that has not ended."""
    return any(_unsettled(part) for part in job.parts)


def _unsettled(part: Part) -> bool:
    if part.done:
        return False
    lost = bool(part.uploading and not part.file_id) or (part.creating and not part.batch_id)
    return lost or bool(part.batch_id)


def settle(deps: Deps, job: Job) -> Job:
    """Find what interrupted calls made and cancel what runs, then read each cancelled
    batch's status (at most every BATCH_STATUS_MIN_SECONDS). The caller cleans up once
    `unsettled` is False; until then the job is looked at again next tick."""
    if not unsettled(job):
        return job
    job = stop_parts(deps, job)  # saves each part as it finds and cancels it
    now = time.time()
    for part in job.parts:
        if part.batch_id and not part.done and not _recent(deps, part, now):
            seen = observed(part, deps.service.get_batch(part.batch_id))
            job = job.with_part(replace(seen, checked_at=int(now)))
    if unsettled(job):
        log.info("job %s: its batches at the service end before it is cleaned up", job.job_id)
    return job


def _recent(deps: Deps, part: Part, now: float) -> bool:
    return bool(part.checked_at and now - part.checked_at < deps.settings.status_min_seconds)
