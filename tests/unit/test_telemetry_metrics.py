"""The metrics functions, read back from the local telemetry file as Azure would receive them
(counters as per-interval deltas, gauges as their latest value)."""

from __future__ import annotations

import logging
import uuid

import pytest

from shared.jobs.model import JobStatus
from shared.telemetry import metrics as m
from tests.unit.telemetry_kit import recorded


def unique(name: str) -> str:
    # Gauges keep their series for the process: each test uses its own attribute values.
    return f"{name}-{uuid.uuid4().hex[:8]}"


def test_requests_by_outcome(tmp_path):
    dep = unique("dep")
    with recorded(tmp_path) as telemetry:
        m.record_requests(dep, succeeded=98, failed=2)
        m.record_requests(dep, succeeded=1, failed=-4)  # a negative count is no count
        assert telemetry.total(m.REQUESTS, deployment=dep, outcome="succeeded") == 99
        assert telemetry.total(m.REQUESTS, deployment=dep, outcome="failed") == 2


def test_tokens_in_and_out_per_deployment(tmp_path):
    a, b = unique("a"), unique("b")
    with recorded(tmp_path) as telemetry:
        m.record_tokens(a, prompt=1000, completion=200, reasoning=50)
        m.record_tokens(a, prompt=10, completion=2)
        m.record_tokens(b, prompt=7, completion=0)
        assert telemetry.total(m.TOKENS, deployment=a, direction="input") == 1010
        assert telemetry.total(m.TOKENS, deployment=a, direction="output") == 202
        assert telemetry.total(m.TOKENS, deployment=a, direction="reasoning") == 50
        assert telemetry.total(m.TOKENS, deployment=b, direction="input") == 7
        assert telemetry.metrics(m.TOKENS, deployment=b, direction="reasoning") == []
        assert {r["unit"] for r in telemetry.metrics(m.TOKENS)} == {"{token}"}


def test_quota_waits(tmp_path):
    dep = unique("dep")
    with recorded(tmp_path) as telemetry:
        for _ in range(3):
            m.record_quota_wait(dep)
        assert telemetry.total(m.QUOTA_WAITS, deployment=dep) == 3


def test_poison_messages_is_the_queue_length_now(tmp_path):
    queue = unique("batch-completions-poison")
    with recorded(tmp_path) as telemetry:
        m.record_poison(queue, 4)
        telemetry.rows()
        m.record_poison(queue, 0)
        assert telemetry.last(m.POISON_MESSAGES, queue=queue) == 0
        assert [r["value"] for r in telemetry.metrics(m.POISON_MESSAGES, queue=queue)][0] == 4


def test_open_jobs_by_age_with_empty_buckets_and_the_oldest(tmp_path):
    hour = 3600
    with recorded(tmp_path) as telemetry:
        m.record_open_jobs([10, 0.5 * hour, 2 * hour, 50 * hour, 72 * hour])
        counts = {r["attributes"]["age"]: r["value"] for r in telemetry.metrics(m.OPEN_JOBS)[-5:]}
        assert counts == {"<1h": 2, "1h-6h": 1, "6h-24h": 0, "24h-48h": 0, ">=48h": 2}
        assert telemetry.last(m.OLDEST_OPEN_JOB) == 72 * hour
        m.record_open_jobs([])
        assert telemetry.last(m.OPEN_JOBS, age=">=48h") == 0
        assert telemetry.last(m.OLDEST_OPEN_JOB) == 0


@pytest.mark.parametrize(
    ("hours", "bucket"),
    [(0, "<1h"), (0.999, "<1h"), (1, "1h-6h"), (23.9, "6h-24h"), (47.99, "24h-48h"), (48, ">=48h")],
)
def test_age_buckets_at_their_edges(hours, bucket):
    assert m.age_bucket(hours * 3600) == bucket


def test_jobs_by_state(tmp_path):
    with recorded(tmp_path) as telemetry:
        m.record_jobs_by_state({JobStatus.IN_PROGRESS: 3, "waiting": 1, JobStatus.FAILED: 0})
        assert telemetry.last(m.JOBS_BY_STATE, status="in_progress") == 3
        assert telemetry.last(m.JOBS_BY_STATE, status="waiting") == 1
        assert telemetry.last(m.JOBS_BY_STATE, status="failed") == 0


def test_poll_heartbeat(tmp_path):
    with recorded(tmp_path) as telemetry:
        m.record_poll_tick(1.5, jobs=12)
        m.record_poll_tick(0.2, jobs=0)
        assert telemetry.total(m.POLL_TICKS) == 2
        [duration] = telemetry.metrics(m.POLL_DURATION, jobs="10-99")
        assert (duration["count"], duration["sum"]) == (1, 1.5)


def test_a_bad_value_is_logged_never_raised(caplog):
    with caplog.at_level(logging.WARNING, logger="shared.telemetry.metrics"):
        m.record_open_jobs(["not a number"])  # type: ignore[list-item]
        m.record_tokens("d", prompt=None, completion=1)  # type: ignore[arg-type]
    assert [r.getMessage() for r in caplog.records] == [
        "telemetry: record_open_jobs failed",
        "telemetry: record_tokens failed",
    ]


def test_nothing_is_written_when_telemetry_is_off(tmp_path):
    from shared.telemetry import setup

    with recorded(tmp_path) as telemetry:
        pass
    assert setup.configure({}) == setup.Mode.OFF
    m.record_quota_wait(unique("after"))
    setup.flush()
    assert not telemetry.path.exists() or "after-" not in telemetry.path.read_text()
