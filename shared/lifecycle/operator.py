"""What a person asks of a job, from the HTTP API or the CLI: cancel it, or retry its failed
requests. Checked first, then written as a request row beside the job, never over it: the
job's worker applies it (batches/stop.py, lifecycle/reopen.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from shared.jobs.model import Job, JobStatus, StopReason
from shared.jobs.store import JobStore
from shared.lifecycle.reopen import Storage, refusal

log = logging.getLogger(__name__)

CANCELLABLE = frozenset(
    {JobStatus.RECEIVED, JobStatus.SUBMITTING, JobStatus.WAITING, JobStatus.IN_PROGRESS}
)


class NotAllowed(Exception):
    """The job's state (or its input's) does not allow what was asked: HTTP 409."""


@dataclass(frozen=True)
class Asked:
    job: Job
    requested: bool  # False: the same kind of request was already waiting for the worker
    message: str


def ask_cancel(store: JobStore, job_id: str, detail: str) -> Asked | None:
    """Ask the job's worker to cancel it; None when there is no such job."""
    job = store.get(job_id)
    if job is None:
        return None
    if job.status not in CANCELLABLE:
        raise NotAllowed(
            f"job {job_id} is {job.status.value}; only received, submitting, waiting or "
            "in_progress jobs can be cancelled"
        )
    created = store.request_stop(job_id, StopReason.CANCEL, detail)
    current = store.get(job_id) or job
    if created:
        return Asked(
            current,
            True,
            "Cancel requested: the job's worker cancels its batches within a poll tick and "
            "keeps the answers that finished.",
        )
    stop = current.stop
    what = f"a {stop.reason.value} ({stop.detail}) at {_stamp(stop.requested_at)}" if stop else ""
    log.info("job %s: cancel already pending", job_id)
    return Asked(current, False, f"Already pending: {what or 'a stop'}; nothing more to do.")


def ask_retry(at: Storage, job_id: str, detail: str) -> Asked | None:
    """Ask the worker of a finished job to send its failed requests again; None when there
    is no such job. Refused (NotAllowed) with the reason when it cannot be retried."""
    job = at.store.get(job_id)
    if job is None:
        return None
    if job.retry is None:
        why = refusal(at, job)
        if why is not None:
            raise NotAllowed(f"job {job_id} cannot be retried: {why}.")
        if at.store.request_retry(job_id, detail):
            return Asked(
                at.store.get(job_id) or job,
                True,
                f"Retry requested: within a poll tick the job's worker sends its {job.failed} "
                "failed request(s) again and merges the new answers into the same results.",
            )
        job = at.store.get(job_id) or job
    asked = _stamp(job.retry.requested_at) if job.retry else "just now"
    return Asked(job, False, f"Already pending: a retry asked for at {asked}; nothing more to do.")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
