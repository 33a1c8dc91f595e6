"""The last step of a finished job: delete its files at the service and its work files."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from shared.batches.access import check_same_resource
from shared.batches.files import (
    delete_earlier_uploads,
    delete_part_files,
    earlier_uploads_may_land,
)
from shared.batches.parallel import in_parallel
from shared.batches.settle import settle, unsettled
from shared.jobs.lease import reread
from shared.jobs.model import ALERT, FINAL, Job, Pause
from shared.lifecycle.pause import overdue
from shared.misconfig import Misconfigured
from shared.storage import blobs
from shared.storage.names import JOB_META, work_prefix

if TYPE_CHECKING:
    from shared.deps import Deps
    from shared.jobs.part import Part

log = logging.getLogger(__name__)


def cleanup(deps: Deps, job: Job) -> Job:
    """Delete every file this job put at the service and its work files; then it is closed.
    A finished job with failed requests keeps its job.json (the input's shape: format,
    columns, schema, delimiter; no request text, a few hundred bytes), which a person's retry
    needs to write results.csv as before (lifecycle/reopen.py); everything else goes. Several
    deletes run at once: a job of a thousand batches has thousands of files. A job that
    ended while batches of its own still ran waits for them first (batches/settle.py), and
    one whose part was uploaded again after a lost answer, for the earlier upload to land. A
    clean-up that meets a wrong setting waits for it (lifecycle/pause.py), but not for ever:
    after BATCH_CONFIG_WAIT_HOURS (counted from the job's own wait, when it ended waiting) it
    closes the job, naming what it could not cancel or delete."""
    try:
        return _cleanup(deps, job)
    except Misconfigured as problem:
        current = reread(deps.store, job)
        if current.paused is None:  # the clean-up's wait for the setting starts now
            deps.store.save(current.changed(paused=_wait_for(current, problem)))
        elif overdue(current, deps.settings):
            return _close_unreached(deps, current, problem)
        raise


def _cleanup(deps: Deps, job: Job) -> Job:
    job = settle(deps, job)
    if unsettled(job) or any(earlier_uploads_may_land(deps, p) for p in job.parts):
        return job  # saved with the lease's release; the next tick looks again
    in_parallel(lambda part: _delete_at_service(deps, part), job.parts)
    in_parallel(lambda part: delete_earlier_uploads(deps.service, job.job_id, part), job.parts)
    removed = _delete_work_files(deps, job)
    log.info("job %s cleaned up (%d work files)", job.job_id, removed)
    return deps.store.save(job.changed(cleaned=True, paused=None), release=True)


def _delete_work_files(deps: Deps, job: Job) -> int:
    prefix = work_prefix(job.job_id)
    keep = {prefix + JOB_META} if job.status in FINAL and job.failed > 0 else set()
    names = [n for n in blobs.names_under(deps.work, prefix) if n not in keep]
    return len(in_parallel(lambda name: blobs.delete_quietly(deps.work, name), names))


def _wait_for(job: Job, problem: Misconfigured) -> Pause:
    now = int(time.time())
    return Pause(resume=job.status, setting=problem.setting, since=now, retry_at=now)


def _close_unreached(deps: Deps, job: Job, problem: Misconfigured) -> Job:
    """Closed after waiting for the setting: what could not be reached is deleted where it
    can be, and what is left is named in last_error and the log (a batch left running ends
    by itself within 24 hours; uploads expire 14 days after they were made)."""
    left = [item for items in in_parallel(lambda p: _left_of(deps, p), job.parts) for item in items]
    try:
        _delete_work_files(deps, job)
    except Exception:  # noqa: BLE001 - the work container may be the wrong setting itself
        log.warning("job %s: work files left in %s", job.job_id, work_prefix(job.job_id))
    note = (
        f"Its clean-up waited {deps.settings.config_wait_hours:g} h for {problem.setting} "
        f"and was closed; left at the service: {', '.join(left) or 'nothing'}."
    )
    log.error("%s job %s: %s (%s)", ALERT, job.job_id, note, problem.detail)
    last_error = f"{job.last_error} {note}".strip()
    return deps.store.save(
        job.changed(cleaned=True, paused=None, last_error=last_error), release=True
    )


def _left_of(deps: Deps, part: Part) -> list[str]:
    """What of the part is still at the service after a last try to delete its files."""
    live = [f"batch {part.batch_id} (not cancelled)"] if part.batch_id and not part.done else []
    try:
        _delete_at_service(deps, part)
        files: list[str] = []
    except Exception:  # noqa: BLE001 - named in the job's last_error instead
        files = [f"file {f}" for f in (part.file_id, part.output_file_id, part.error_file_id) if f]
    where = f" at {part.endpoint}" if part.endpoint else ""
    return [f"{item}{where}" for item in live + files]


def close_anyway(deps: Deps, job: Job) -> Job:
    """A finished job whose clean-up keeps failing is closed rather than retried for ever;
    what it leaves is named in the log (uploads expire after 14 days at the service)."""
    files = [f for p in job.parts for f in (p.file_id, p.output_file_id, p.error_file_id) if f]
    log.error(
        "%s job %s: clean-up failed %d times; closed anyway, leaving files %s and work folder %s",
        ALERT,
        job.job_id,
        job.step_failures,
        ", ".join(files) or "none",
        work_prefix(job.job_id),
    )
    return deps.store.save(job.changed(cleaned=True), release=True)


def _delete_at_service(deps: Deps, part: Part) -> None:
    if not (part.file_id or part.output_file_id or part.error_file_id):
        return  # nothing to delete (a part closed with its gone resource has no files)
    # Never "already gone" at another resource than the one that holds the files.
    check_same_resource(deps.service, part, deps.settings)
    delete_part_files(deps.service, part)
