"""Stopping a job's parts (a cancel, or a newer upload superseding it): nothing more is sent,
and every batch that exists at the service is found, also after a create whose answer was
lost, and asked to cancel; it is tracked until it ends so its finished answers are kept.
Its status is read before the cancel: a batch that ended by itself is followed and collected as
usual, so a cancel the service keeps refusing never holds up a batch that has nothing left to
cancel. Several parts are stopped at once, and none started once the poll tick is out of time
(BATCH_POLL_BUDGET_SECONDS): a job of 1,000 batches is cancelled over a few ticks."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from shared.batches.access import check_same_resource
from shared.batches.origin import gone_with_resource
from shared.batches.parallel import each_part
from shared.batches.submit import batch_metadata, lookup_since, may_still_land
from shared.batches.track import observed, remote_batch
from shared.jobs.lease import covered
from shared.jobs.model import Job
from shared.jobs.part import Part
from shared.misconfig import Misconfigured

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)


def stop_parts(deps: Deps, job: Job) -> Job:
    """Every part not yet ended: find what an interrupted call made, cancel or drop it. Parts
    left when the tick runs out of time are stopped by the next ticks."""
    todo = [p for p in job.parts if not p.done and not _cancelling(p)]
    return each_part(deps, job, todo, _stop_part, until=lambda _job: deps.out_of_time())


def _stop_part(deps: Deps, job: Job, part: Part) -> Job:
    # Made at another resource than AZURE_OPENAI_ENDPOINT names now: a look-up there finds
    # nothing and a cancel there answers 404, and the batch would run on, billed and
    # untracked. Misconfigured instead: the job waits, naming the setting, unless the part's
    # own resource is gone for good (batches/origin.py).
    try:
        check_same_resource(deps.service, part, deps.settings)
    except Misconfigured:
        closed = gone_with_resource(deps, part)
        if closed is None:
            raise
        return deps.store.save(job.with_part(closed))
    found = _found(deps, job, part)
    if may_still_land(deps, found):
        return job
    found = replace(found, creating=False, uploading=None)
    if found.batch_id:
        if observed(found, remote_batch(deps, found)).done:
            # Ended by itself (or gone): nothing to cancel. Tracked from here on as a cancelled
            # batch is (a quota refusal, its files collected), the cancel left out.
            log.info("job %s part %d: batch %s had ended", job.job_id, part.index, found.batch_id)
            return deps.store.save(job.with_part(replace(found, cancel_sent=True)))
    return _stop(deps, job, found)


def _cancelling(part: Part) -> bool:
    """Its batch was asked to cancel and is tracked to its end. A part whose batch the service
    refused for quota after the cancel went out has no batch any more: it is closed too."""
    return part.cancel_sent and part.batch_id is not None


def _found(deps: Deps, job: Job, part: Part) -> Part:
    """The part with whatever an interrupted upload or create left at the service."""
    if part.creating and not part.batch_id:
        batch = deps.service.find_batch(batch_metadata(job, part), lookup_since(deps, part))
        if batch is not None:
            log.info("job %s part %d: found batch %s", job.job_id, part.index, batch.id)
            part = replace(part, batch_id=batch.id)
    if part.uploading and not part.file_id:
        uploaded = deps.service.find_file(part.uploading)
        if uploaded is not None:
            part = replace(part, file_id=uploaded.id)
    return part


def _stop(deps: Deps, job: Job, part: Part) -> Job:
    covered(deps.store, job, deps.settings.openai_timeout_seconds)
    if part.batch_id:
        deps.service.cancel_batch(part.batch_id)
        log.info("job %s part %d: cancel sent for batch %s", job.job_id, part.index, part.batch_id)
        return deps.store.save(job.with_part(replace(part, cancel_sent=True)))
    if part.file_id:
        deps.service.delete_file(part.file_id)
    stopped = replace(part, file_id=None, remote_status="cancelled", wait_until=None)
    return deps.store.save(job.with_part(stopped))
