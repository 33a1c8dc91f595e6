"""The polling use case: advance each open job by one step."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from .deps import Deps
from .steps import advance

log = logging.getLogger(__name__)


@dataclass
class TickReport:
    seen: int = 0
    advanced: int = 0
    errors: int = 0
    out_of_time: bool = False


def poll_all(deps: Deps, budget_seconds: float = 240.0) -> TickReport:
    """One timer tick. A failing job is logged and skipped so it cannot stall the others."""
    report = TickReport()
    deadline = time.monotonic() + budget_seconds
    for job in deps.store.open_jobs():
        if time.monotonic() >= deadline:
            report.out_of_time = True
            log.warning("poll tick out of time; the rest wait for the next tick")
            break
        report.seen += 1
        try:
            after = advance(deps, job)
        except Exception:  # noqa: BLE001 - one bad job must not stop the tick
            report.errors += 1
            log.exception("job %s: step failed; retried next tick", job.job_id)
            continue
        report.advanced += after.status != job.status
    log.info(
        "poll tick: %d open, %d advanced, %d errors", report.seen, report.advanced, report.errors
    )
    return report
