"""The lease on a job: one worker acts on it at a time. Claim it, keep it alive with a
heartbeat while the step runs (also through calls slower than the lease), make sure it covers
a call's whole timeout before any side effect starts, release it; written once here."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.jobs.model import Conflict, Job, utcnow
from shared.waits import NotYet

if TYPE_CHECKING:
    from shared.jobs.store import JobStore

log = logging.getLogger(__name__)

MARGIN = timedelta(seconds=5)  # slack on top of a call's timeout


class LeaseLost(Exception):
    """This worker no longer holds the job's lease: it must not start another side effect."""


@dataclass(eq=False)
class LeaseState:
    """The job's lease row as this worker knows it; every copy of a job this worker holds
    shares one, so the heartbeat and the step agree on the row's ETag."""

    owner: str = ""
    until: datetime | None = None
    etag: str | None = None
    mine: bool = False  # this worker claimed it and has not released it
    seconds: float = 0.0  # how long each renewal extends it
    cover: float = 0.0  # at least this much left at every renewal (a call's timeout)
    lost: bool = False
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def held_by_other(self, now: datetime, skew: float) -> bool:
        """Held by someone else. Their clock may run behind ours by up to `skew` seconds, so
        their lease counts as running that much longer."""
        if self.mine or not self.owner or self.until is None:
            return False
        return now < self.until + timedelta(seconds=skew)

    def renewal(self, now: datetime) -> datetime:
        return now + timedelta(seconds=max(self.seconds, self.cover))


def claim(store: JobStore, job: Job, seconds: float, skew: float) -> Job | None:
    """Take the job's lease before side effects; None when someone else holds it (or took it
    between our read and our write: the write is conditional on the lease row)."""
    current = job.lease or LeaseState()
    now = utcnow()
    if current.held_by_other(now, skew):
        return None
    mine = LeaseState(
        owner=uuid.uuid4().hex,
        until=now + timedelta(seconds=seconds),
        etag=current.etag,
        mine=True,
        seconds=seconds,
    )
    return store.claim(job, mine)


def covered(store: JobStore, job: Job, seconds: float) -> None:
    """Before a side effect: make sure the lease lasts the call's whole timeout, or raise
    LeaseLost. The heartbeat keeps that much in hand until the step ends."""
    lease = job.lease
    if lease is None or not lease.mine:
        raise LeaseLost(f"job {job.job_id}: no lease held")
    with lease.lock:
        if lease.lost:
            raise LeaseLost(f"job {job.job_id}: the lease was lost")
        lease.cover = max(lease.cover, seconds + MARGIN.total_seconds())
        left = (lease.until - utcnow()).total_seconds() if lease.until else 0.0
        if left < lease.cover and not store.renew(job.job_id, lease):
            raise LeaseLost(f"job {job.job_id}: the lease could not be renewed")


class Heartbeat:
    """Renews the lease every third of its length until stopped, from a daemon thread."""

    def __init__(self, store: JobStore, job: Job) -> None:
        self.store, self.job_id, self.lease = store, job.job_id, job.lease
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"lease-{job.job_id[:8]}")
        self.thread.daemon = True

    def __enter__(self) -> Heartbeat:
        if self.lease is not None:
            self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)

    def _run(self) -> None:
        assert self.lease is not None
        interval = max(min(self.lease.seconds, 300.0) / 3, 0.05)
        while not self.stopped.wait(interval):
            with self.lease.lock:
                if not self.lease.mine or self.lease.lost:
                    return
                if not self.store.renew(self.job_id, self.lease):
                    self.lease.lost = True
                    log.warning("job %s: lease lost to another worker", self.job_id)
                    return


def reread(store: JobStore, job: Job) -> Job:
    """The job as stored now, still under this worker's lease (a re-read must not drop it)."""
    current = store.get(job.job_id)
    if current is None:
        raise LeaseLost(f"job {job.job_id}: the job row is gone")
    return replace(current, lease=job.lease)


def release_quietly(store: JobStore, job: Job, failure: str | None = None) -> None:
    """After a failed step: count the failure and let the next trigger retry now, not when the
    lease ends. Only the lease's holder may do so: a lease taken over meanwhile is left alone."""
    current = store.get(job.job_id)
    lease = job.lease
    if current is None or lease is None or lease.lost or not lease.mine:
        return
    current = replace(current, lease=lease)
    if failure is not None:
        # A finished job keeps the reason it finished with; the count still bounds retries.
        error = current.last_error if current.is_terminal else failure
        count = 1 if progressed(job, current) else current.step_failures + 1
        current = current.changed(step_failures=count, last_error=error)
    try:
        store.save(current, release=True)
    except Conflict:
        pass  # changed meanwhile: whoever changed it owns it, or the lease runs out


def progressed(before: Job, after: Job) -> bool:
    """Whether a step got further before it failed: a part uploaded, a batch created, ended or
    collected. A step failing after such progress starts the count of failures in a row again;
    intent records alone are no progress, so a call failing every time still gives up."""
    return _milestones(after) > _milestones(before)


def _milestones(job: Job) -> int:
    return len(job.parts) + sum(
        bool(p.file_id) + bool(p.batch_id) + p.done + p.collected for p in job.parts
    )


def run_leased(
    store: JobStore, job: Job, seconds: float, skew: float, step: Callable[[Job], Job]
) -> Job | None:
    """Claim the job, run `step` on the leased copy with a heartbeat, release the lease; None
    when another worker holds it. A failing step is counted and releases at once, so the next
    trigger need not wait for the lease to run out; a step that hands the job on releases the
    lease in its own last write."""
    claimed = claim(store, job, seconds, skew)
    if claimed is None:
        return None
    with Heartbeat(store, claimed):
        try:
            result = step(claimed)
        except (LeaseLost, Conflict):
            # Whatever the step started was recorded as intent first: the new holder finds it.
            log.warning("job %s: lease lost mid-step; another worker carries on", job.job_id)
            return store.get(job.job_id) or job
        except NotYet:
            release_quietly(store, claimed)  # tried again next trigger, not counted
            raise
        except Exception as exc:
            release_quietly(store, claimed, failure_text(exc))
            raise
    if claimed.lease is None or not claimed.lease.mine:
        return result
    try:
        return store.save(result, release=True)
    except Conflict:
        return result  # its work is saved; someone took the job on since


def failure_text(exc: BaseException) -> str:
    """What the table shows for an unexpected failure: the kind of error only, since messages
    can quote input text (prompts never go into the table); the log has the details."""
    if isinstance(exc, Conflict):
        return "The job changed while a step ran (a concurrent writer); retried next tick."
    return f"Unexpected {type(exc).__name__} in a step; see the logs for this job id."
