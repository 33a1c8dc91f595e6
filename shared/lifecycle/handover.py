"""Handing a job whose batches all ended to completion: the queue message, sent again if lost."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

import orjson

from shared.jobs.model import Job, JobStatus, utcnow

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)

MIN_REQUEUE_AFTER = timedelta(seconds=1)


def hand_to_completion(deps: Deps, job: Job) -> Job:
    """Every batch ended: mark the job COMPLETING and queue its merge."""
    # The lease goes in the same write: the completion worker may take the job at once.
    job = deps.store.save(job.moved_to(JobStatus.COMPLETING), release=True)
    deps.queue.send_message(orjson.dumps({"job_id": job.job_id}).decode())
    log.info("job %s: all batches ended; completion queued", job.job_id)
    return job


def is_stale(job: Job, seconds: float) -> bool:
    """No progress for longer than a lease: whoever was working on it is gone."""
    quiet = max(timedelta(seconds=seconds), MIN_REQUEUE_AFTER)
    return utcnow() - job.updated_at >= quiet


def requeue_if_stale(deps: Deps, job: Job) -> Job:
    """COMPLETING: if the completion message was lost, send it again (completion is idempotent)."""
    if not is_stale(job, deps.settings.lease_seconds):
        return job
    log.warning("job %s: completion made no progress; queueing it again", job.job_id)
    return hand_to_completion(deps, job)
