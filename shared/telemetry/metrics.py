"""The app's metrics, one small function each: requests, tokens, estimated cost, quota waits,
configuration errors, poison messages, open jobs by age, jobs by state and the poller's
heartbeat. OpenTelemetry instruments: in Azure they become custom metrics (table AppMetrics:
Name, Sum, ItemCount, Min, Max, Properties).
Every function swallows its own errors: a metric must never fail the work it measures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import Any

from opentelemetry import metrics

REQUESTS = "batchdrop.requests"
TOKENS = "batchdrop.tokens"
COST = "batchdrop.cost"
QUOTA_WAITS = "batchdrop.quota.waits"
CONFIG_ERRORS = "batchdrop.config.errors"
POISON_MESSAGES = "batchdrop.poison.messages"
OPEN_JOBS = "batchdrop.jobs.open"
OLDEST_OPEN_JOB = "batchdrop.jobs.open.oldest_age"
JOBS_BY_STATE = "batchdrop.jobs.by_state"
POLL_TICKS = "batchdrop.poll.ticks"
POLL_DURATION = "batchdrop.poll.duration"

# Age buckets of open jobs: (label, upper bound in hours); the last one is open-ended.
AGE_BUCKETS = (("<1h", 1.0), ("1h-6h", 6.0), ("6h-24h", 24.0), ("24h-48h", 48.0), (">=48h", None))

log = logging.getLogger(__name__)
_meter = metrics.get_meter("batchdrop")
_requests = _meter.create_counter(REQUESTS, unit="{request}", description="Requests by outcome")
_tokens = _meter.create_counter(TOKENS, unit="{token}", description="Tokens by direction")
_cost = _meter.create_counter(
    COST, unit="USD", description="Estimated cost at batch and at standard prices"
)
_config_errors = _meter.create_counter(
    CONFIG_ERRORS, unit="{error}", description="Steps stopped by a wrong setting, by setting"
)
_quota_waits = _meter.create_counter(
    QUOTA_WAITS, unit="{wait}", description="Batches refused for enqueued-token quota"
)
_poison = _meter.create_gauge(
    POISON_MESSAGES, unit="{message}", description="Messages in a poison queue"
)
_open_jobs = _meter.create_gauge(OPEN_JOBS, unit="{job}", description="Open jobs by age")
_oldest = _meter.create_gauge(OLDEST_OPEN_JOB, unit="s", description="Age of the oldest open job")
_by_state = _meter.create_gauge(JOBS_BY_STATE, unit="{job}", description="Jobs in each state")
_ticks = _meter.create_counter(POLL_TICKS, unit="{tick}", description="Poll ticks that ran")
_tick_seconds = _meter.create_histogram(POLL_DURATION, unit="s", description="Poll tick length")


def _quiet[F: Callable[..., None]](function: F) -> F:
    @wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> None:
        try:
            function(*args, **kwargs)
        except Exception:  # noqa: BLE001 - see the module docstring
            log.warning("telemetry: %s failed", function.__name__, exc_info=True)

    return guarded  # type: ignore[return-value]


@_quiet
def record_requests(deployment: str, succeeded: int, failed: int) -> None:
    """Final outcomes of a job's requests for one deployment (after every retry)."""
    _requests.add(max(succeeded, 0), {"deployment": deployment, "outcome": "succeeded"})
    _requests.add(max(failed, 0), {"deployment": deployment, "outcome": "failed"})


@_quiet
def record_tokens(deployment: str, prompt: int, completion: int, reasoning: int = 0) -> None:
    """Tokens the service reported for one deployment; reasoning tokens are part of the
    completion tokens (and billed as output), so they are a breakdown, not an addition."""
    _tokens.add(max(prompt, 0), {"deployment": deployment, "direction": "input"})
    _tokens.add(max(completion, 0), {"deployment": deployment, "direction": "output"})
    if reasoning > 0:
        _tokens.add(reasoning, {"deployment": deployment, "direction": "reasoning"})


@_quiet
def record_cost(deployment: str, model: str, cost: float, standard_cost: float) -> None:
    """A finished job's estimated cost for one deployment (`price`: batch), and what the same
    tokens would cost at standard prices (`price`: standard); the saving is the difference."""
    attributes = {"deployment": deployment, "model": model}
    _cost.add(max(cost, 0.0), {**attributes, "price": "batch"})
    _cost.add(max(standard_cost, 0.0), {**attributes, "price": "standard"})


@_quiet
def record_config_error(setting: str) -> None:
    """A job's step stopped on a configuration error naming `setting`; the job waits."""
    _config_errors.add(1, {"setting": setting})


@_quiet
def record_quota_wait(deployment: str) -> None:
    """A batch for `deployment` was refused for lack of enqueued-token quota and waits."""
    _quota_waits.add(1, {"deployment": deployment})


@_quiet
def record_poison(queue: str, count: int) -> None:
    """How many messages sit in a poison queue now (0 once it is emptied)."""
    _poison.set(max(count, 0), {"queue": queue})


@_quiet
def record_open_jobs(ages: Iterable[float]) -> None:
    """Open jobs by age (seconds since each was received): a count per bucket, zeros included
    so a bucket that empties shows 0, and the oldest age."""
    counts = dict.fromkeys((label for label, _ in AGE_BUCKETS), 0)
    oldest = 0.0
    for age in ages:
        counts[age_bucket(age)] += 1
        oldest = max(oldest, age)
    for label, count in counts.items():
        _open_jobs.set(count, {"age": label})
    _oldest.set(round(oldest, 3))


@_quiet
def record_jobs_by_state(counts: Mapping[str, int]) -> None:
    """How many jobs are in each state now (pass every state the caller counted, zeros too)."""
    for status, count in counts.items():
        _by_state.set(max(count, 0), {"status": str(getattr(status, "value", status))})


@_quiet
def record_poll_tick(seconds: float, jobs: int) -> None:
    """The poller ran: the heartbeat the "poller not running" alert watches."""
    _ticks.add(1)
    _tick_seconds.record(max(seconds, 0.0), {"jobs": _jobs_bucket(jobs)})


def age_bucket(age_seconds: float) -> str:
    hours = max(age_seconds, 0.0) / 3600
    for label, limit in AGE_BUCKETS:
        if limit is None or hours < limit:
            return label
    return AGE_BUCKETS[-1][0]


def _jobs_bucket(jobs: int) -> str:
    # A bounded attribute: one series per order of magnitude, not per job count.
    return "0" if jobs <= 0 else "1-9" if jobs < 10 else "10-99" if jobs < 100 else "100+"
