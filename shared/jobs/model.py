"""Job and JobStatus: the job's state as data and its allowed transitions. Pure, no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.jobs.part import Part, PartPhase

if TYPE_CHECKING:
    from shared.jobs.lease import LeaseState


class JobStatus(StrEnum):
    RECEIVED = "received"  # row claimed for a blob version; input not read yet
    REJECTED = "rejected"  # input invalid: report written, nothing submitted
    SUBMITTING = "submitting"  # parts prepared; files being uploaded and batches created
    WAITING = "waiting"  # blocked on enqueued-token quota; resubmitted later
    IN_PROGRESS = "in_progress"  # every part has a live batch at the service
    COMPLETING = "completing"  # every batch ended; the merge is queued or running
    COMPLETED = "completed"  # every request has a final outcome
    FAILED = "failed"  # the service refused a batch, a batch vanished, or a step kept failing
    CANCELLED = "cancelled"  # cancelled by a person; finished answers kept
    EXPIRED = "expired"  # a batch expired; partial results kept
    SUPERSEDED = "superseded"  # a newer upload of the same name replaced it; no outputs
    SKIPPED = "skipped"  # identical content completed recently: not sent, its summary points there


TERMINAL = frozenset(
    {
        JobStatus.REJECTED,
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
        JobStatus.EXPIRED,
        JobStatus.SUPERSEDED,
        JobStatus.SKIPPED,
    }
)

ACTIVE = frozenset({JobStatus.SUBMITTING, JobStatus.WAITING, JobStatus.IN_PROGRESS})
FINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.EXPIRED})
# A step that keeps failing ends the job failed; a newer upload supersedes any open job.
GIVE_UP = frozenset({JobStatus.FAILED, JobStatus.SUPERSEDED})

# Every state change must be listed here (docs/reliability.md, I5). The active states move among
# themselves as parts wait for quota, get batches and end; COMPLETING goes back to SUBMITTING
# only to send a follow-up batch of retryable requests. Any open state may pause in WAITING for
# a configuration error (a Pause); the step of the paused state then runs again from WAITING, so
# WAITING also leads wherever RECEIVED and COMPLETING lead.
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.RECEIVED: frozenset({JobStatus.REJECTED, JobStatus.SKIPPED, JobStatus.SUBMITTING})
    | {JobStatus.WAITING}
    | GIVE_UP,
    **{s: (ACTIVE - {s}) | {JobStatus.COMPLETING} | GIVE_UP for s in ACTIVE},
    JobStatus.WAITING: ACTIVE - {JobStatus.WAITING}
    | {JobStatus.COMPLETING, JobStatus.REJECTED, JobStatus.SKIPPED}
    | FINAL
    | GIVE_UP,
    JobStatus.COMPLETING: FINAL | {JobStatus.SUBMITTING, JobStatus.WAITING} | GIVE_UP,
    # The one way out of a final state: a person asked to retry its failed requests
    # (lifecycle/reopen.py), and the job's worker reopens it with a new round of batches.
    # Rejected, superseded and skipped jobs sent nothing that could be retried: no way out.
    **{s: frozenset({JobStatus.SUBMITTING}) for s in FINAL},
}


# Log lines that need a person carry this word; the alert rule in infra/ searches for it.
ALERT = "BATCHDROP_ALERT"


class TransitionError(ValueError):
    """A state change that the state machine does not allow."""


class Conflict(Exception):
    """Someone else changed the job since it was read (HTTP 412); re-read and decide again."""


class StopReason(StrEnum):
    CANCEL = "cancel"  # a person asked (HTTP API, CLI)
    SUPERSEDED = "superseded"  # a newer version of the input blob arrived


@dataclass(frozen=True)
class Stop:
    """A request to stop the job, written beside it by anyone; applied by its worker."""

    reason: StopReason
    detail: str
    requested_at: datetime

    @property
    def final_status(self) -> JobStatus:
        return JobStatus.CANCELLED if self.reason == StopReason.CANCEL else JobStatus.SUPERSEDED


@dataclass(frozen=True)
class Pause:
    """A configuration error (a wrong key, endpoint, role or container) stopped the job's step:
    the job waits in WAITING, not failed, and the step of `resume` runs again at `retry_at`."""

    resume: JobStatus  # the state whose step runs again
    setting: str  # what to fix, as the error named it
    since: int  # epoch seconds: the first error of this run of errors
    retry_at: int  # epoch seconds: the next try
    tries: int = 1


@dataclass(frozen=True)
class RetryRequest:
    """A request to send a finished job's failed requests again, written beside it by anyone
    (HTTP API, CLI); the job's worker applies it by reopening the job, or refuses it."""

    detail: str
    requested_at: datetime


def job_id_for(container: str, name: str, etag: str) -> str:
    """One id per blob version; hashed because table keys forbid / \\ # ? and control chars."""
    digest = hashlib.sha256(f"{container}\n{name}\n{etag.strip(chr(34))}".encode())
    return digest.hexdigest()[:40]


def utcnow() -> datetime:
    return datetime.now(UTC)


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
    cleaned: bool = False
    warnings: tuple[str, ...] = ()
    # When the input blob version was written (the service's clock): the newest version wins.
    blob_modified: datetime | None = None
    # The input's content as the service describes it (Content-MD5 and size), "" when it has no
    # MD5: a new ETag with the same content is a metadata change, not an upload (intake/receive).
    content: str = ""
    stop: Stop | None = None  # a cancel or supersede waiting to be applied, or applied
    retry: RetryRequest | None = None  # a retry of a finished job waiting to be applied
    step_failures: int = 0  # unexpected failures of the current step in a row
    # A configuration error's wait (status WAITING); kept while the paused step runs again, so
    # that a step failing again continues the same wait, and dropped once the job moves on.
    paused: Pause | None = None
    estimated_cost: float | None = None  # USD at the price table, once the results are merged
    saving: float | None = None  # USD against the same tokens at standard (online) prices
    # Parts before this index ran before a retry reopened the job: kept for the record (their
    # batches are in summary.json), never sent, merged or counted in the outcome again.
    first_part: int = 0
    reopened_at: datetime | None = None  # when a person's retry last reopened it
    # The work container (BATCH_WORK_CONTAINER) its work files were written to: missing there
    # later, they were emptied away ("" for jobs recorded before this was); missing from
    # another container, the setting names the wrong one (shared/storage/work.py).
    work_container: str = ""
    # Counts status changes, so the listing index never goes back to an older status
    # (jobs/listing.py); listed_seq: the change the listing index is known to hold.
    status_seq: int = field(default=0, compare=False)
    listed_seq: int = field(default=-1, compare=False)
    # Request rows (`stop`, `retry`) this save deletes: applied, they are part of the job now.
    drop_rows: tuple[str, ...] = field(default=(), compare=False)
    # Set by the store: the ETag of the job row this copy was read with, the parts and status
    # as stored (a save writes only what changed, and reports a state change), and the job's
    # lease as this worker knows it.
    row_etag: str | None = field(default=None, compare=False)
    stored_status: JobStatus | None = field(default=None, compare=False, repr=False)
    stored_parts: tuple[Part, ...] = field(default=(), compare=False, repr=False)
    lease: LeaseState | None = field(default=None, compare=False, repr=False)

    @classmethod
    def new(
        cls,
        container: str,
        name: str,
        etag: str,
        blob_modified: datetime | None = None,
        content: str = "",
    ) -> Job:
        job_id = job_id_for(container, name, etag)
        return cls(job_id, container, name, etag, blob_modified=blob_modified, content=content)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def is_open(self) -> bool:
        """Open jobs are polled; a finished job stays open until its files are cleaned up, or
        while a retry request waits for its worker."""
        return not (self.is_terminal and self.cleaned) or self.retry is not None

    @property
    def opened_at(self) -> datetime:
        """When this run began: the upload, or the retry that reopened the job."""
        return self.reopened_at or self.created_at

    @property
    def current_parts(self) -> tuple[Part, ...]:
        """The parts of this run: all of them, or those sent since a retry reopened the job."""
        return self.parts[self.first_part :]

    @property
    def first_round(self) -> int:
        """The round of this run's first batches (1, or later after a retry reopened it)."""
        return self.parts[self.first_part].round if len(self.parts) > self.first_part else 1

    @property
    def stopping(self) -> bool:
        """A stop was asked for while the job can still act on it."""
        return self.stop is not None and not self.is_terminal

    @property
    def is_paused(self) -> bool:
        """Waiting for a setting to be fixed (rather than for quota)."""
        return self.status == JobStatus.WAITING and self.paused is not None

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
        # A new state starts with no failures; leaving it for another than WAITING ends a pause.
        fresh: dict[str, Any] = {}
        if status != self.status:
            fresh = {"step_failures": 0, "status_seq": self.status_seq + 1}
            if status != JobStatus.WAITING:
                fresh["paused"] = None
        return replace(self, status=status, updated_at=utcnow(), **{**fresh, **changes})

    def with_part(self, part: Part) -> Job:
        parts = tuple(part if p.index == part.index else p for p in self.parts)
        return replace(self, parts=parts, updated_at=utcnow())

    def changed(self, **changes: Any) -> Job:
        return replace(self, updated_at=utcnow(), **changes)


def cancel_too_late(job: Job, all_answered: bool) -> bool:
    """A person's cancel reached no batch: every batch of the run had completed by itself and
    every request has its answer, so there was nothing left to cancel."""
    if job.stop is None or job.stop.reason != StopReason.CANCEL or not all_answered:
        return False
    return all(p.remote_status == "completed" for p in job.current_parts)


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


def outcome(job: Job, expired_left: bool = False, all_answered: bool = False) -> JobStatus:
    """The job's final status: a person's cancel cancels it, a refused batch fails it, and
    requests still lost to an expired batch after every retry make it expired. A cancel that
    came after every batch of the run had ended, with every request answered, stopped nothing:
    the job is `completed`, as its batches were (explain.py says the cancel came too late)."""
    statuses = {p.remote_status for p in job.current_parts}  # earlier runs' batches are history
    if cancel_too_late(job, all_answered):
        return JobStatus.COMPLETED
    if job.stop is not None and job.stop.reason == StopReason.CANCEL:
        return JobStatus.CANCELLED
    if "failed" in statuses:
        return JobStatus.FAILED
    if "cancelled" in statuses:
        return JobStatus.CANCELLED
    if expired_left:
        return JobStatus.EXPIRED
    return JobStatus.COMPLETED
