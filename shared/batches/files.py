"""Deleting what a job's parts left at the service, so the resource's file quota never fills."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from shared.batches.service import BatchService
from shared.batches.submit import LATE_CREATE_TIMEOUTS
from shared.jobs.part import Part
from shared.storage.names import upload_name

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)


def delete_part_files(service: BatchService, part: Part) -> None:
    """The part's upload and the service's output and error files (already gone is fine)."""
    for file_id in (part.file_id, part.output_file_id, part.error_file_id):
        if file_id:
            service.delete_file(file_id)


def earlier_uploads_may_land(deps: Deps, part: Part) -> bool:
    """An upload whose answer was lost may reach the service after the part was uploaded again
    under its next name (a request held up in the network, as for creates: F3). Each earlier
    try was sent before the recorded upload, so it lands, if ever, within LATE_CREATE_TIMEOUTS
    client timeouts (plus the clock skew) of `uploaded_at`; the clean-up waits that long."""
    if part.upload_tries < 2 or part.uploaded_at is None:
        return False
    window = LATE_CREATE_TIMEOUTS * deps.settings.openai_timeout_seconds
    # uploaded_at is rounded down: the recorded upload ended up to a second after it.
    return time.time() < part.uploaded_at + 1 + window + deps.settings.clock_skew_seconds


def delete_earlier_uploads(service: BatchService, job_id: str, part: Part) -> None:
    """Files of the part's earlier upload tries that landed after all (I6): looked up by name,
    so only for a part uploaded more than once (one look-up per earlier try)."""
    for attempt in range(1, part.upload_tries):
        found = service.find_file(upload_name(job_id, part.index, attempt))
        if found is not None and found.id != part.file_id:
            log.info("job %s part %d: deleting earlier upload %s", job_id, part.index, found.id)
            service.delete_file(found.id)
