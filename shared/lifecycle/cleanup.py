"""The last step of a finished job: delete its files at the service and its work files."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shared.batches.files import delete_part_files
from shared.batches.parallel import in_parallel
from shared.jobs.model import Job
from shared.storage.names import work_prefix

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)


def cleanup(deps: Deps, job: Job) -> Job:
    """Delete every file this job put at the service and its work files; then it is closed."""
    in_parallel(lambda part: delete_part_files(deps.service, part), job.parts)
    names = [b.name for b in deps.work.list_blobs(name_starts_with=work_prefix(job.job_id))]
    removed = len(in_parallel(lambda name: _delete(deps, name), names))
    log.info("job %s cleaned up (%d work files)", job.job_id, removed)
    return deps.store.save(job.changed(cleaned=True), release=True)


def _delete(deps: Deps, name: str) -> None:
    deps.work.delete_blob(name, delete_snapshots="include")
