"""Helpers of the issue 9 attack tests: an emulator whose batches take a while, triggers
fired the way the platform fires them (a failing step is the point, so it is swallowed),
and what the service holds for a job that the job does not know of."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from devtools.emulator import Emulator, EmulatorConfig, Timings
from shared.jobs.model import Job
from tests.conftest import API_KEY, DEPLOYMENTS, ENTRA_SECRET


@contextmanager
def emulator_with(in_progress: float = 3.0, cancelling: float = 0.3) -> Iterator[Emulator]:
    """An emulator of the test's own, its batches running `in_progress` seconds."""
    timings = Timings(
        file_processing=0.05,
        validating=0.05,
        in_progress=in_progress,
        finalizing=0.05,
        cancelling=cancelling,
    )
    config = EmulatorConfig(
        port=0, api_key=API_KEY, entra_secret=ENTRA_SECRET, deployments=DEPLOYMENTS, timings=timings
    )
    with Emulator(config) as running:
        yield running


def pump(host: Any, done: Callable[[], bool], timeout: float = 60.0) -> None:
    """Blob events, timer ticks and queue deliveries until `done()`; a trigger that fails is
    retried by the next round, as the platform would."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "did not settle in time"
        for trigger in (host.deliver_new_blobs, host.fire_timer, host.drain_queue):
            try:
                trigger()
            except Exception:  # noqa: BLE001 - the steps' failures are what is tested
                pass
        time.sleep(0.1)


def live_or_untracked(emulator: Emulator, job: Job) -> list[dict[str, Any]]:
    """The job's batches at the service that still run, or that the job does not record."""
    known = set(job.batch_ids)
    return [
        batch
        for batch in emulator.batches(metadata={"batchdrop_job": job.job_id})
        if batch["live"] or batch["id"] not in known
    ]


def service_files(emulator: Emulator, ids: list[str]) -> list[dict[str, Any]]:
    """The service's records of the files `ids`, to say what was left in a failure."""
    return [f for f in emulator.state()["files"] if f["id"] in set(ids)]
