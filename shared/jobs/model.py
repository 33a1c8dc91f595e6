"""Job, Part and JobStatus: the job's state as data and its allowed transitions. Pure, no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    RECEIVED = "received"  # row claimed for a blob version; input not read yet
    REJECTED = "rejected"  # input invalid: report written, nothing submitted
    SUBMITTING = "submitting"  # parts prepared; files being uploaded and batches created
    WAITING = "waiting"  # blocked on enqueued-token quota; resubmitted later
    IN_PROGRESS = "in_progress"  # every part has a live batch at the service
    COMPLETING = "completing"  # every batch ended; the merge is queued or running
    COMPLETED = "completed"  # every request has a final outcome
    FAILED = "failed"  # the service refused a batch, or a batch vanished
    CANCELLED = "cancelled"  # a batch was cancelled; partial results kept
    EXPIRED = "expired"  # a batch expired; partial results kept


TERMINAL = frozenset(
    {
        JobStatus.REJECTED,
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.EXPIRED,
    }
)

ACTIVE = frozenset({JobStatus.SUBMITTING, JobStatus.WAITING, JobStatus.IN_PROGRESS})
FINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED})

# Every state change must be listed here (docs/reliability.md, I5). The active states move among
# themselves as parts wait for quota, get batches and end; COMPLETING goes back to SUBMITTING
# only to send a follow-up batch of retryable requests.
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.RECEIVED: frozenset({JobStatus.REJECTED, JobStatus.SUBMITTING, JobStatus.FAILED}),
    **{s: (ACTIVE - {s}) | {JobStatus.COMPLETING, JobStatus.FAILED} for s in ACTIVE},
    JobStatus.COMPLETING: FINAL | {JobStatus.SUBMITTING},
}

# Azure's batch statuses, lower-cased; the ones after which nothing more will happen.
REMOTE_TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


# Log lines that need a person carry this word; the alert rule in infra/ searches for it.
ALERT = "BATCHDROP_ALERT"


class TransitionError(ValueError):
    """A state change that the state machine does not allow."""


def job_id_for(container: str, name: str, etag: str) -> str:
    """One id per blob version; hashed because table keys forbid / \\ # ? and control chars."""
    digest = hashlib.sha256(f"{container}\n{name}\n{etag.strip(chr(34))}".encode())
    return digest.hexdigest()[:40]


def utcnow() -> datetime:
    return datetime.now(UTC)


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
    upload_tries: int = 0
    wait_until: int | None = None  # quota back-off: no batch before this (epoch seconds)
    waiting_since: int | None = None
    quota_tries: int = 0
    checked_at: int | None = None  # last status call, to poll each batch at most once a minute
    collected: bool = False  # output and error files copied to work storage, gone at the service
    # Intent, written before the call: after a crash, look for what the call may have made.
    uploading: str | None = None  # file name of an upload in flight
    creating: bool = False  # a batches.create in flight

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

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if v not in (None, ())}
        if self.errors:
            data["errors"] = list(self.errors)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Part:
        data = dict(data)
        data["errors"] = tuple(data.get("errors", ()))
        return cls(**data)


@dataclass(frozen=True)
class Job:
    job_id: str
    container: str
    name: str
    etag: str
    status: JobStatus = JobStatus.RECEIVED
    parts: tuple[Part, ...] = ()
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    last_error: str = ""
    lease_until: datetime | None = None
    lease_owner: str = ""  # who holds the lease: only they release it
    cancel_requested: bool = False  # parts not yet at the service are not sent
    cleaned: bool = False
    warnings: tuple[str, ...] = ()
    # Set by the store: the table ETag this copy was read with (for conditional writes).
    row_etag: str | None = None
    # Not stored: how long each write by the lease holder extends its lease.
    lease_seconds: float = 0.0

    @classmethod
    def new(cls, container: str, name: str, etag: str) -> Job:
        return cls(
            job_id=job_id_for(container, name, etag), container=container, name=name, etag=etag
        )

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def is_open(self) -> bool:
        """Open jobs are polled; a finished job stays open until its files are cleaned up."""
        return not (self.is_terminal and self.cleaned)

    @property
    def deployments(self) -> tuple[str, ...]:
        return tuple(sorted({p.deployment for p in self.parts}))

    @property
    def batch_ids(self) -> tuple[str, ...]:
        return tuple(p.batch_id for p in self.parts if p.batch_id)

    def moved_to(self, status: JobStatus, **changes: Any) -> Job:
        """A copy in the new status; refuses transitions the state machine does not allow."""
        if status != self.status and status not in ALLOWED.get(self.status, frozenset()):
            raise TransitionError(f"job {self.job_id}: {self.status} -> {status} not allowed")
        return replace(self, status=status, updated_at=utcnow(), **changes)

    def with_part(self, part: Part) -> Job:
        parts = tuple(part if p.index == part.index else p for p in self.parts)
        return replace(self, parts=parts, updated_at=utcnow())

    def changed(self, **changes: Any) -> Job:
        return replace(self, updated_at=utcnow(), **changes)


def derived_status(parts: tuple[Part, ...], now: float) -> JobStatus:
    """The job's visible state while its batches run, from its parts' phases."""
    phases = {p.phase(now) for p in parts}
    if phases <= {PartPhase.DONE}:
        return JobStatus.COMPLETING
    if phases & {PartPhase.UPLOAD, PartPhase.CREATE}:
        return JobStatus.SUBMITTING
    if PartPhase.WAITING in phases:
        return JobStatus.WAITING
    return JobStatus.IN_PROGRESS


def outcome(parts: tuple[Part, ...], expired_left: bool = False) -> JobStatus:
    """The job's final status: a refused batch fails it, a cancel cancels it, and requests
    still lost to an expired batch after every retry make it expired."""
    statuses = {p.remote_status for p in parts}
    if "failed" in statuses:
        return JobStatus.FAILED
    if "cancelled" in statuses:
        return JobStatus.CANCELLED
    if expired_left:
        return JobStatus.EXPIRED
    return JobStatus.COMPLETED


def renewed(job: Job) -> Job:
    """Each write by the lease holder extends its lease by the lease's length."""
    if job.lease_until is None or not job.lease_seconds:
        return job
    return replace(job, lease_until=utcnow() + timedelta(seconds=job.lease_seconds))
