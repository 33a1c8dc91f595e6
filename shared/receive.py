"""The blob-trigger use case: one job per input blob version, however often the event comes."""

from __future__ import annotations

import logging

from azure.core.exceptions import ResourceNotFoundError

from .config import Settings, SettingsError
from .deps import Deps
from .jobs import Job
from .paths import is_ignored
from .steps import advance

log = logging.getLogger(__name__)


def check_containers(settings: Settings) -> None:
    """Outputs and work files must never land where the trigger listens (a trigger loop)."""
    for name, value in (
        ("BATCH_OUTPUT_CONTAINER", settings.output_container),
        ("BATCH_WORK_CONTAINER", settings.work_container),
    ):
        if value == settings.input_container:
            raise SettingsError(
                f"Setting {name}={value!r} is the input container (BATCH_INPUT_CONTAINER); "
                "outputs there would trigger new jobs. Use another container."
            )


def is_input(deps: Deps, container: str, name: str) -> bool:
    return container == deps.settings.input_container and not is_ignored(name)


def submit_blob(deps: Deps, container: str, name: str) -> Job | None:
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


def record_job(deps: Deps, container: str, name: str, etag: str, quiet: bool = False) -> Job | None:
    """Create the job of one blob version unless it exists; the new job, or None."""
    job = Job.new(container, name, etag)
    created = deps.store.create(job)
    if created is None:
        if not quiet:
            log.info("job %s already exists for this blob version; event ignored", job.job_id)
        return None
    log.info("job %s received (input %s)", job.job_id, name)
    return created
