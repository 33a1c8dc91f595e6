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


def _lost_tries(part: Part) -> bool:
    """Whether an earlier upload try's answer was lost: more tries than the one recorded now
    and those the service could not process (each recorded, then deleted)."""
    return part.upload_tries > part.unusable_uploads + 1


def earlier_uploads_may_land(deps: Deps, part: Part) -> bool:
    """An upload whose answer was lost may reach the service after the part was uploaded again
    under its next name (a request held up in the network, as for creates: F3). Each earlier
    try was sent before the last one, so it lands, if ever, within LATE_CREATE_TIMEOUTS client
    timeouts (plus the clock skew) of `uploading_at`; the clean-up waits that long."""
    # Rows written before uploading_at was: the recorded upload's time (rounded down).
    sent = part.uploading_at or (part.uploaded_at + 1 if part.uploaded_at else None)
    if not _lost_tries(part) or sent is None:
        return False
    window = LATE_CREATE_TIMEOUTS * deps.settings.openai_timeout_seconds
    return time.time() < sent + window + deps.settings.clock_skew_seconds


def delete_earlier_uploads(service: BatchService, job_id: str, part: Part) -> None:
    """Files of the part's earlier upload tries that landed after all (I6), looked up by name:
    only for a part with a try whose answer was lost (one look-up per earlier try)."""
    if not _lost_tries(part):
        return
    for attempt in range(1, part.upload_tries):
        found = service.find_file(upload_name(job_id, part.index, attempt))
        if found is not None and found.id != part.file_id:
            log.info("job %s part %d: deleting earlier upload %s", job_id, part.index, found.id)
            service.delete_file(found.id)
