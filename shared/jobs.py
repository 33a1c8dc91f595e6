"""Job, Part and JobStatus: the job's state as data and its allowed transitions. Pure, no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
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

# Forward-only: every state change must be listed here (quality.md I5).
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.RECEIVED: frozenset({JobStatus.REJECTED, JobStatus.SUBMITTING, JobStatus.FAILED}),
    JobStatus.SUBMITTING: frozenset(
        {JobStatus.WAITING, JobStatus.IN_PROGRESS, JobStatus.COMPLETING, JobStatus.FAILED}
    ),
    JobStatus.WAITING: frozenset({JobStatus.SUBMITTING, JobStatus.FAILED}),
    JobStatus.IN_PROGRESS: frozenset({JobStatus.COMPLETING, JobStatus.FAILED}),
    JobStatus.COMPLETING: frozenset(
        {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED}
    ),
}

# Azure's batch statuses, lower-cased; the ones after which nothing more will happen.
REMOTE_TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


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

    @property
    def work_name(self) -> str:
        return f"part-{self.index:04d}.jsonl"

    @property
    def done(self) -> bool:
        return self.remote_status in REMOTE_TERMINAL

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
    cleaned: bool = False
    warnings: tuple[str, ...] = ()
    # Set by the store: the table ETag this copy was read with (for conditional writes).
    row_etag: str | None = None

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


def outcome(parts: tuple[Part, ...]) -> JobStatus:
    """The job's final status from its batches' final statuses (all must be terminal)."""
    statuses = {p.remote_status for p in parts}
    if "failed" in statuses:
        return JobStatus.FAILED
    if "expired" in statuses:
        return JobStatus.EXPIRED
    if "cancelled" in statuses:
        return JobStatus.CANCELLED
    return JobStatus.COMPLETED
