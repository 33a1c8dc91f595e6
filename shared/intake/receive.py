"""Receiving an input blob: is it an input, and its job recorded once per blob version."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from shared.config import Settings, SettingsError
from shared.jobs.model import Job
from shared.storage.names import is_ignored

if TYPE_CHECKING:
    from shared.deps import Deps

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
