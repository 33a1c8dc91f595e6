"""Entry point of the blob trigger: one job per input blob version, however often it is told."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from azure.core.exceptions import ResourceNotFoundError

from shared.intake.receive import check_containers, content_of, is_input, record_job
from shared.jobs.model import Job
from shared.lifecycle.advance import advance
from shared.storage.names import unsafe_name

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
    found = current_version(deps, container, name)
    if found is None:
        log.warning("input blob deleted before it could be read; nothing to do")
        return None
    etag, modified, content = found
    created = record_job(deps, container, name, etag, modified, content=content)
    if created is None:
        return deps.store.get(Job.new(container, name, etag).job_id)
    # The same steps the poller runs, so a crash part-way resumes there.
    return advance(deps, created)


def current_version(deps: Deps, container: str, name: str) -> tuple[str, datetime, str] | None:
    """The blob's ETag, write time and content (`content_of`) now; None if it is gone. A name
    an HTTP client would rewrite (`..` segments) is looked up by listing, which never reads
    another blob."""
    if unsafe_name(name) is None:
        try:
            props = deps.blobs.get_blob_client(container, name).get_blob_properties()
        except ResourceNotFoundError:
            return None
        return props.etag, props.last_modified, content_of(props)
    listed = deps.blobs.get_container_client(container).list_blobs(name_starts_with=name)
    blob = next((b for b in listed if b.name == name), None)
    return (blob.etag, blob.last_modified, content_of(blob)) if blob is not None else None
