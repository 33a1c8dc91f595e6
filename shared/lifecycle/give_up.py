"""Ending a job that cannot go on: a step that failed too often in a row (a poison input or a
bug), or a newer upload of the same name. What runs at the service is cancelled first."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson
from azure.core.exceptions import ResourceNotFoundError

from shared.batches.stop import stop_parts
from shared.jobs.lease import reread
from shared.jobs.model import ALERT, ALLOWED, Job, JobStatus
from shared.lifecycle.pause import config_problem
from shared.results.publish import publish_failure
from shared.storage.names import SUMMARY, output_prefix

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)


def give_up(deps: Deps, job: Job) -> Job:
    """FAILED after BATCH_MAX_STEP_FAILURES unexpected failures of one step in a row."""
    published = published_outcome(deps, job)
    if published is not None:
        return published
    reason = (
        f"Gave up after {job.step_failures} failed attempts in state {job.status.value}: "
        f"{job.last_error or 'no error recorded'} The input is kept; fix the cause (see the "
        "logs for this job id) and upload the file again."
    )
    return _fail(deps, job, reason)


def lost(deps: Deps, job: Job, reason: str) -> Job:
    """FAILED at once: the job's work files are gone (shared/storage/work.py); trying the step
    again cannot bring them back, so it is not counted to BATCH_MAX_STEP_FAILURES."""
    return _fail(deps, reread(deps.store, job), reason)


def _fail(deps: Deps, job: Job, reason: str) -> Job:
    job = _stop_quietly(deps, job)
    if job.first_part:  # a person's retry: the results it started from stay as they are
        reason += " The outputs are still those of the run before the retry."
    else:
        reason = _publish_quietly(deps, job, reason)
    log.error("%s job %s: %s", ALERT, job.job_id, reason)
    return deps.store.save(job.moved_to(JobStatus.FAILED, last_error=reason))


def supersede(deps: Deps, job: Job) -> Job:
    """SUPERSEDED: a newer version of the input replaced this one; it writes no outputs."""
    published = published_outcome(deps, job)
    if published is not None:
        return published
    detail = job.stop.detail if job.stop else "A newer upload of the same name replaced it."
    if job.first_part:  # a person's retry: its folder keeps what the run before it wrote
        detail += " The outputs are those of the run before the retry until the newer job's."
    log.info("job %s superseded: %s", job.job_id, detail)
    return deps.store.save(job.moved_to(JobStatus.SUPERSEDED, last_error=detail))


def _stop_quietly(deps: Deps, job: Job) -> Job:
    """Cancel what runs at the service; a failure here must not stop the job from ending."""
    try:
        return stop_parts(deps, job)
    except Exception:  # noqa: BLE001 - best effort: the job ends anyway
        log.exception("job %s: could not cancel its batches while giving up", job.job_id)
        return job


def _publish_quietly(deps: Deps, job: Job, reason: str) -> str:
    """summary.json with the reason; the reason alone when the folder cannot be written (a
    blob in it leased or locked by someone else): the failure that made the job give up may
    be that very write, and giving up must end the job (I3). A wrong setting still pauses
    the job (lifecycle/pause.py), so that fixing it lets the summary be written."""
    try:
        publish_failure(deps, job, reason)
    except Exception as exc:
        if config_problem(exc, deps.settings) is not None:
            raise
        log.exception("job %s: could not write summary.json while giving up", job.job_id)
        return f"{reason} Its summary.json could not be written either (see the logs)."
    return reason


def published_outcome(deps: Deps, job: Job) -> Job | None:
    """A job whose summary.json is in its folder has ended: summary.json is written last, so
    it is the commit point, and a worker that died after writing it left only the final save
    undone. Finish that save with the outcome the summary states; None when the folder holds
    no summary of this run of this job (another job's, or one from before a person's retry)."""
    try:
        data = deps.output.download_blob(f"{output_prefix(job.name)}/{SUMMARY}").readall()
        doc = orjson.loads(data)
    except (ResourceNotFoundError, orjson.JSONDecodeError):
        return None
    if not isinstance(doc, dict) or doc.get("job_id") != job.job_id or not _this_run(job, doc):
        return None
    status = _legal_end(job, doc.get("status"))
    if status is None:
        return None
    counts = doc.get("counts") or {}
    log.info("job %s had published its outputs (%s); that outcome stands", job.job_id, status)
    done = {"succeeded": counts.get("succeeded", 0), "failed": counts.get("failed", 0)}
    return deps.store.save(job.moved_to(status, **done))


def _this_run(job: Job, doc: dict[str, Any]) -> bool:
    """A person's retry reopens a job with the summary.json of the run before still in its
    folder (lifecycle/reopen.py): that one lists only the batches before the retry and says
    how that run ended, not this one. A summary of this run lists its batches too."""
    batches = doc.get("batches")
    return job.first_part == 0 or (isinstance(batches, list) and len(batches) > job.first_part)


def _legal_end(job: Job, value: object) -> JobStatus | None:
    """The summary's status, if the save may write it: from this copy's status and from the
    row's. A step's result can hold a state it moved to in memory only (SUBMITTING ->
    COMPLETING once its parts closed); the save then writes the row's state straight to
    the outcome, and that change must be one ALLOWED lists too (I5)."""
    stored = job.stored_status or job.status
    for status in ALLOWED.get(job.status, ()):
        if status.value == value and (status == stored or status in ALLOWED.get(stored, ())):
            return status
    return None
