"""The blob-trigger use case: one job per input blob version, however often the event comes."""

from __future__ import annotations

import logging

from azure.core.exceptions import ResourceNotFoundError

from .deps import Deps
from .jobs import Job
from .paths import is_ignored
from .steps import advance

log = logging.getLogger(__name__)


def submit_blob(deps: Deps, container: str, name: str) -> Job | None:
    """Record the job (create-if-absent on container, name, ETag), then take its first steps."""
    if container != deps.settings.input_container or is_ignored(name):
        log.info("not an input file; ignored (container %s)", container)
        return None
    try:
        props = deps.blobs.get_blob_client(container, name).get_blob_properties()
    except ResourceNotFoundError:
        log.warning("input blob deleted before it could be read; nothing to do")
        return None
    job = Job.new(container, name, props.etag)
    created = deps.store.create(job)
    if created is None:
        log.info("job %s already exists for this blob version; event ignored", job.job_id)
        return deps.store.get(job.job_id)
    log.info("job %s received", job.job_id)
    # The same steps the poller runs, so a crash part-way resumes there.
    return advance(deps, created)
