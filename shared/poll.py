"""Entry point of the timer: sweep for lost events, then advance each open job one step, many
at once, within a time budget; then report open jobs by state and age, and poison messages."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from azure.core.exceptions import ResourceNotFoundError

from shared.intake.sweep import sweep_inputs
from shared.jobs.explain import stuck_reason
from shared.jobs.model import ALERT, TERMINAL, Conflict, Job, JobStatus, utcnow
from shared.lifecycle.advance import advance
from shared.telemetry import metrics

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)

# Where the Functions host moves a blob event or a queue message that failed five times.
BLOB_POISON = "webjobs-blobtrigger-poison"
POISON_SUFFIX = "-poison"
QUEUE_TRIES = {"retry_total": 1}  # a count for a chart: never worth stalling the tick
OPEN_STATES = tuple(s for s in JobStatus if s not in TERMINAL)


@dataclass
class TickReport:
    seen: int = 0
    advanced: int = 0
    errors: int = 0
    skipped: int = 0  # not reached within the tick's budget
    # (state, seconds since received) of each open job this tick read
    open_jobs: list[tuple[str, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, name: str) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)

    def seen_open(self, job: Job) -> None:
        if job.is_open:
            age = (utcnow() - job.created_at).total_seconds()
            with self.lock:
                self.open_jobs.append((job.status.value, age))


def poll_all(deps: Deps) -> TickReport:
    """One timer tick. Jobs are independent: each is advanced on a worker thread, and a
    failing job is logged and skipped so it cannot stall the others."""
    sweep_inputs(deps)  # blobs whose event never came get their jobs first
    report = TickReport()
    deadline = time.monotonic() + deps.settings.poll_budget_seconds
    tick = replace(deps, deadline=deadline)  # a job's step stops starting parts then, too
    with ThreadPoolExecutor(deps.settings.poll_concurrency, "poll") as pool:
        for job_id in deps.store.open_job_ids():
            report.seen += 1
            pool.submit(_advance_one, tick, job_id, deadline, report)
    if report.skipped:
        log.warning("poll tick out of time: %d job(s) wait for the next tick", report.skipped)
    log.info(
        "poll tick: %d open, %d advanced, %d errors", report.seen, report.advanced, report.errors
    )
    report_open_jobs(report)
    watch_poison(deps)
    return report


def report_open_jobs(report: TickReport) -> None:
    """Open jobs by state (every open state, zeros too) and by age, as this tick found them."""
    counts = dict.fromkeys((s.value for s in OPEN_STATES), 0)
    for status, _age in report.open_jobs:
        counts[status] = counts.get(status, 0) + 1
    metrics.record_jobs_by_state(counts)
    metrics.record_open_jobs(age for _status, age in report.open_jobs)


def watch_poison(deps: Deps) -> dict[str, int]:
    """Messages waiting in the poison queues: a metric each, and an alert line while any is
    there (a blob event or completion that failed five times needs a person)."""
    if deps.queues is None:
        return {}
    counts: dict[str, int] = {}
    for name in (BLOB_POISON, deps.settings.completion_queue + POISON_SUFFIX):
        try:
            queue = deps.queues.get_queue_client(name)
            count = queue.get_queue_properties(**QUEUE_TRIES).approximate_message_count or 0
        except ResourceNotFoundError:
            count = 0  # the host creates a poison queue with its first message
        except Exception:  # noqa: BLE001 - a count must not fail the tick
            log.warning("could not read the poison queue %s", name, exc_info=True)
            continue
        counts[name] = count
        metrics.record_poison(name, count)
        if count:
            log.error(
                "%s %d message(s) in the poison queue %s: they failed five times; see the "
                "function's failures in the logs, then delete or re-queue them",
                ALERT,
                count,
                name,
            )
    return counts


def _advance_one(deps: Deps, job_id: str, deadline: float, report: TickReport) -> None:
    if time.monotonic() >= deadline:
        report.count("skipped")
        return
    job: Job | None = None
    try:
        job = deps.store.get(job_id)
        if job is None or not job.is_open:
            deps.store.forget(job_id)  # a crash came between closing the job and the index
            return
        after = advance(deps, job)
    except Exception:  # noqa: BLE001 - one bad job must not stop the tick
        report.count("errors")
        if job is not None:
            report.seen_open(job)
        log.exception("job %s: step failed; retried next tick", job_id)
        return
    report.seen_open(after)
    if after.status != job.status:
        report.count("advanced")
    _warn_if_stuck(deps, after)


def _warn_if_stuck(deps: Deps, job: Job) -> None:
    """A job still open long after any batch could have ended needs a person (I3)."""
    age = utcnow() - job.opened_at  # a retried job counts from its retry
    stuck_hours = deps.settings.stuck_hours
    if job.is_terminal or age <= timedelta(hours=stuck_hours):
        return
    reason = job.last_error or stuck_reason(job, stuck_hours, time.time())
    hours = age.total_seconds() / 3600
    log.error("%s job %s stuck in %s for %.0f h: %s", ALERT, job.job_id, job.status.value,
              hours, reason)  # fmt: skip
    if not job.last_error:
        _note(deps, job, reason)


def _note(deps: Deps, job: Job, reason: str) -> None:
    """Write a stuck job's reason once; never in the way of a worker holding it."""
    lease = job.lease
    if lease is not None and lease.held_by_other(utcnow(), deps.settings.clock_skew_seconds):
        return
    try:
        deps.store.save(job.changed(last_error=reason))
    except Conflict:
        pass  # it moved on meanwhile; the next tick looks again
