"""Entry point of the timer: sweep for lost events, then advance each open job one step, many
at once, within a time budget."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from shared.intake.sweep import sweep_inputs
from shared.jobs.model import ALERT, Job, utcnow
from shared.lifecycle.advance import advance

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    seen: int = 0
    advanced: int = 0
    errors: int = 0
    skipped: int = 0  # not reached within the tick's budget
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)


def poll_all(deps: Deps) -> TickReport:
    """One timer tick. Jobs are independent: each is advanced on a worker thread, and a
    failing job is logged and skipped so it cannot stall the others."""
    sweep_inputs(deps)  # blobs whose event never came get their jobs first
    report = TickReport()
    deadline = time.monotonic() + deps.settings.poll_budget_seconds
    with ThreadPoolExecutor(deps.settings.poll_concurrency, "poll") as pool:
        for job_id in deps.store.open_job_ids():
            report.seen += 1
            pool.submit(_advance_one, deps, job_id, deadline, report)
    if report.skipped:
        log.warning("poll tick out of time: %d job(s) wait for the next tick", report.skipped)
    log.info(
        "poll tick: %d open, %d advanced, %d errors", report.seen, report.advanced, report.errors
    )
    return report


def _advance_one(deps: Deps, job_id: str, deadline: float, report: TickReport) -> None:
    if time.monotonic() >= deadline:
        report.count("skipped")
        return
    try:
        job = deps.store.get(job_id)
        if job is None or not job.is_open:
            deps.store.forget(job_id)  # a crash came between closing the job and the index
            return
        after = advance(deps, job)
    except Exception:  # noqa: BLE001 - one bad job must not stop the tick
        report.count("errors")
        log.exception("job %s: step failed; retried next tick", job_id)
        return
    if after.status != job.status:
        report.count("advanced")
    _warn_if_stuck(deps, after)


def _warn_if_stuck(deps: Deps, job: Job) -> None:
    """A job still open long after any batch could have ended needs a person (I3)."""
    age = utcnow() - job.opened_at  # a retried job counts from its retry
    if not job.is_terminal and age > timedelta(hours=deps.settings.stuck_hours):
        hours = age.total_seconds() / 3600
        log.error(
            "%s job %s stuck in %s for %.0f h; last error: %s",
            ALERT,
            job.job_id,
            job.status.value,
            hours,
            job.last_error or "none",
        )
