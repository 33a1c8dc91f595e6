"""A finished job's batches, before its clean-up. A job can end while batches of its own still
run at the service: it gave up (a step kept failing) while another part ran, or while a
create whose answer was lost could not be looked up. Its clean-up first finds and cancels
them (batches/stop.py: a batch that ended by itself meanwhile is not cancelled, only
collected) and follows each until it has ended, so that the output and error
files the service writes on ending are deleted with the rest and nothing billed is left
running or untracked (I6, I10)."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from shared.batches.origin import gone_with_resource
from shared.batches.parallel import each_part
from shared.batches.stop import stop_parts
from shared.batches.track import observed, remote_batch
from shared.jobs.model import Job
from shared.jobs.part import Part
from shared.misconfig import Misconfigured

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
    """Find what interrupted calls made and cancel what still runs (its status read first),
    then read each cancelled batch's status (at most every BATCH_STATUS_MIN_SECONDS), several
    at a time and none started once the tick is out of time. The caller cleans up once
    `unsettled` is False; until then the job is looked at again next tick."""
    if not unsettled(job):
        return job
    job = stop_parts(deps, job)  # saves each part as it finds, reads and cancels it
    now = time.time()
    followed = [p for p in job.parts if _cancelled(p) and not _recent(deps, p, now)]
    job = each_part(deps, job, followed, _follow, until=lambda _job: deps.out_of_time())
    if unsettled(job):
        log.info("job %s: its batches at the service end before it is cleaned up", job.job_id)
    return job


def _cancelled(part: Part) -> bool:
    return bool(part.batch_id) and not part.done and part.cancel_sent


def _follow(deps: Deps, job: Job, part: Part) -> Job:
    """The batch's status, kept unsaved: saved with the lease's release. Made at another
    resource than the setting names: closed when that resource is gone for good."""
    try:
        seen = observed(part, remote_batch(deps, part))
    except Misconfigured:
        closed = gone_with_resource(deps, part)
        if closed is None:
            raise
        seen = closed
    return job.with_part(replace(seen, checked_at=int(time.time())))


def _recent(deps: Deps, part: Part, now: float) -> bool:
    return bool(part.checked_at and now - part.checked_at < deps.settings.status_min_seconds)
