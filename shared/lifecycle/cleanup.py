"""The last step of a finished job: delete its files at the service and its work files."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shared.batches.access import check_same_resource
from shared.batches.files import delete_part_files
from shared.batches.parallel import in_parallel
from shared.batches.settle import settle, unsettled
from shared.jobs.model import ALERT, FINAL, Job
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
    ended while batches of its own still ran waits for them first (batches/settle.py)."""
    job = settle(deps, job)
    if unsettled(job):
        return job  # saved with the lease's release; the next tick looks again
    in_parallel(lambda part: _delete_at_service(deps, part), job.parts)
    prefix = work_prefix(job.job_id)
    keep = {prefix + JOB_META} if job.status in FINAL and job.failed > 0 else set()
    names = [n for n in blobs.names_under(deps.work, prefix) if n not in keep]
    removed = len(in_parallel(lambda name: blobs.delete_quietly(deps.work, name), names))
    log.info("job %s cleaned up (%d work files)", job.job_id, removed)
    return deps.store.save(job.changed(cleaned=True), release=True)


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
    # Never "already gone" at another resource than the one that holds the files.
    check_same_resource(deps.service, part, deps.settings)
    delete_part_files(deps.service, part)
