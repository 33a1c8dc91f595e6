"""Entry point of the blob trigger: one job per input blob version, however often it is told."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from azure.core.exceptions import ResourceNotFoundError

from shared.intake.receive import check_containers, is_input, record_job
from shared.jobs.model import Job
from shared.lifecycle.advance import advance

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)


def receive_blob(deps: Deps, container: str, name: str) -> Job | None:
    """Record the job (create-if-absent on container, name, ETag), then take its first steps.

    The blob is read as it is now, not as it was at the event: a stale event (the blob changed
    since) thus records the current version, and that version's own event finds its job.
    """
    check_containers(deps.settings)
    if not is_input(deps, container, name):
        log.info("not an input file; ignored (container %s)", container)
        return None
    try:
        props = deps.blobs.get_blob_client(container, name).get_blob_properties()
    except ResourceNotFoundError:
        log.warning("input blob deleted before it could be read; nothing to do")
        return None
    created = record_job(deps, container, name, props.etag)
    if created is None:
        return deps.store.get(Job.new(container, name, props.etag).job_id)
    # The same steps the poller runs, so a crash part-way resumes there.
    return advance(deps, created)
