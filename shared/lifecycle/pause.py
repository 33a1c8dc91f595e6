"""A job whose step met a configuration error (shared/misconfig.py) is not failed: it waits in
WAITING with the setting and what to do as its last_error, an alert fires (a BATCHDROP_ALERT
line and the batchdrop.config.errors metric), and the step of the state it paused in runs again
with back-off, so it resumes by itself once the setting is fixed.

The rule: tried again after BATCH_QUOTA_BACKOFF_SECONDS, doubling, at most every 15 minutes
(a fixed setting is picked up within a quarter of an hour); a job whose step keeps meeting
configuration errors for BATCH_CONFIG_WAIT_HOURS (7 days: under the 14 days Azure OpenAI keeps
uploaded and output files) ends failed with its reason and, where it can, summary.json."""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

from shared.jobs.lease import reread
from shared.jobs.model import ALERT, Job, JobStatus, Pause
from shared.misconfig import Misconfigured, storage_problem
from shared.results.publish import publish_failure
from shared.telemetry import metrics

if TYPE_CHECKING:
    from shared.config import Settings
    from shared.deps import Deps

log = logging.getLogger(__name__)

RETRY_CAP_SECONDS = 900


def config_problem(exc: BaseException, settings: Settings) -> Misconfigured | None:
    """The configuration error behind `exc`, or None when it is something else."""
    if isinstance(exc, Misconfigured):
        return exc
    return storage_problem(exc, settings)


def pause(deps: Deps, job: Job, problem: Misconfigured) -> Job:
    """WAITING until the next try, the reason in last_error; a wait already running goes on
    (its start, its tries, the state to resume), so the deadline counts from its first error."""
    metrics.record_config_error(problem.setting)
    current = reread(deps.store, job)
    if current.is_terminal:
        # Cleaning up a finished job: it keeps its outcome and is tried again next tick.
        log.warning("job %s: clean-up waits for a setting: %s", job.job_id, problem.reason)
        return current
    log.error("%s job %s waits: %s", ALERT, job.job_id, problem.reason)
    now = int(time.time())
    previous = current.paused
    resume = previous.resume if previous and current.is_paused else current.status
    tries = previous.tries + 1 if previous else 1
    delay = min(deps.settings.quota_backoff_seconds * 2 ** (tries - 1), RETRY_CAP_SECONDS)
    waiting = Pause(
        resume=resume,
        setting=problem.setting,
        since=previous.since if previous else now,
        retry_at=now + math.ceil(delay),
        tries=tries,
    )
    return deps.store.save(
        current.moved_to(JobStatus.WAITING, paused=waiting, last_error=problem.reason)
    )


def overdue(job: Job, settings: Settings) -> bool:
    """The job has waited for a setting longer than BATCH_CONFIG_WAIT_HOURS."""
    since = job.paused.since if job.paused else time.time()
    return time.time() - since >= settings.config_wait_hours * 3600


def end_wait(deps: Deps, job: Job) -> Job:
    """FAILED: the setting stayed wrong for BATCH_CONFIG_WAIT_HOURS. Batches still running at
    the service cannot be cancelled with a wrong setting; they end by themselves, and the
    clean-up names them (lifecycle/cleanup.py)."""
    hours = deps.settings.config_wait_hours
    reason = (
        f"Gave up after waiting {hours:g} h for a setting to be fixed. {job.last_error} "
        "Once it is fixed, upload the file again."
    )
    log.error("%s job %s: %s", ALERT, job.job_id, reason)
    try:
        publish_failure(deps, job, reason)
    except Exception:  # noqa: BLE001 - the output container may be the wrong setting
        log.warning("job %s: no summary.json written", job.job_id, exc_info=True)
    # The wait is kept: a clean-up that meets the same setting does not wait that long again.
    return deps.store.save(job.moved_to(JobStatus.FAILED, last_error=reason, paused=job.paused))
