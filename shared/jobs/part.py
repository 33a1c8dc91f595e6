"""Part: one batch at the service for a slice of a job's requests, and its phase. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# Azure's batch statuses, lower-cased; the ones after which nothing more will happen.
REMOTE_TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


def normalise_remote_status(status: object) -> str | None:
    """Older API versions capitalise statuses ("Validating"); compare in lower case."""
    if not isinstance(status, str) or not status.strip():
        return None
    return status.strip().lower()


class PartPhase(StrEnum):
    UPLOAD = "upload"  # the part's file is not at the service yet
    CREATE = "create"  # uploaded; its batch is to be created once the file is processed
    WAITING = "waiting"  # the service refused the batch for lack of quota; retried later
    LIVE = "live"  # the batch runs at the service
    DONE = "done"  # the batch ended (any terminal status)


@dataclass(frozen=True)
class Part:
    """One batch at the service: a slice of the job's requests for one deployment."""

    index: int
    deployment: str
    url: str
    count: int
    file_id: str | None = None
    batch_id: str | None = None
    remote_status: str | None = None
    completed: int = 0
    failed: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    ended_at: int | None = None
    errors: tuple[dict[str, Any], ...] = ()
    round: int = 1  # 1: first try; n: the batch of requests retried for the (n-1)th time
    uploaded_at: int | None = None  # epoch seconds
    # Uploads sent so far (it names the next one); only uploads the service could not
    # process count against the one re-upload a part is allowed (unusable_uploads).
    upload_tries: int = 0
    unusable_uploads: int = 0
    wait_until: int | None = None  # quota back-off: no batch before this (epoch seconds)
    waiting_since: int | None = None
    quota_tries: int = 0
    checked_at: int | None = None  # last status call, to poll each batch at most once a minute
    collected: bool = False  # output and error files copied to work storage, gone at the service
    # Intent, written before the call: after a crash, look for what the call may have made.
    uploading: str | None = None  # file name of an upload in flight
    # When the last upload was sent (epoch seconds), kept once it is recorded: an earlier try
    # whose answer was lost may land until a while after it (shared/batches/files.py).
    uploading_at: int | None = None
    creating: bool = False  # a batches.create in flight
    creating_at: int | None = None  # when that create was sent (epoch seconds)
    cancel_sent: bool = False  # the service was asked to cancel this part's batch
    # The AZURE_OPENAI_ENDPOINT its file was uploaded to (and its batch created at), recorded
    # with the upload's intent: a 404 for it from another endpoint is a wrong setting, never
    # a batch that is gone (shared/batches/access.py `made_elsewhere`).
    endpoint: str | None = None

    @property
    def done(self) -> bool:
        return self.remote_status in REMOTE_TERMINAL

    def phase(self, now: float) -> PartPhase:
        """Where this part is, derived from its stored facts."""
        if self.done:
            return PartPhase.DONE
        if self.batch_id:
            return PartPhase.LIVE
        if self.wait_until is not None and now < self.wait_until:
            return PartPhase.WAITING
        return PartPhase.CREATE if self.file_id else PartPhase.UPLOAD
