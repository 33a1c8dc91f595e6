"""A poll tick keeps to BATCH_POLL_BUDGET_SECONDS with a job of many parts (README "Polling
that scales", F15). Sending stops at the budget; cancelling does not: a cancelled job of many
running batches cancels every one of them, one call and one table write after another, in
one tick, however long that takes. Stopping, too, starts no part once the tick is out of time
and runs several parts at once; the next ticks cancel the rest (issue 9, second attack)."""

from __future__ import annotations

import time

from devtools.emulator import Emulator, EmulatorConfig, Timings
from shared.deps import default_deps
from shared.jobs.model import JobStatus, StopReason
from tests.conftest import API_KEY, DEPLOYMENTS, jsonl
from tests.integration.attack9_kit import pump
from tests.integration.test_flow import chat, jobs, upload

PARTS = 60
BUDGET = 2.0
LATENCY = 0.1  # each call to the service, as a round trip to Azure


def test_a_tick_that_cancels_a_job_of_many_parts_keeps_to_its_budget(app_env, host):
    timings = Timings(
        file_processing=0.05, validating=0.05, in_progress=300, finalizing=0.05, cancelling=0.05
    )
    config = EmulatorConfig(
        port=0, api_key=API_KEY, deployments=DEPLOYMENTS, timings=timings, latency=LATENCY
    )
    with Emulator(config) as emu:
        app_env(
            AZURE_OPENAI_ENDPOINT=emu.url,
            BATCH_MAX_REQUESTS="1",
            BATCH_POLL_BUDGET_SECONDS=str(BUDGET),
            BATCH_LEASE_SECONDS="30",
        )
        deps = default_deps()
        upload(deps, "many.jsonl", jsonl([chat(f"r{i}", "x") for i in range(PARTS)]))
        pump(host, lambda: bool(jobs(deps)) and len(jobs(deps)[0].batch_ids) == PARTS, 120)
        [job] = jobs(deps)
        deps.store.request_stop(job.job_id, StopReason.CANCEL, "a person")
        started = time.monotonic()
        host.fire_timer()
        took = time.monotonic() - started
        assert took < BUDGET + 3, f"one tick ran {took:.1f}s against a budget of {BUDGET}s"
        pump(host, lambda: jobs(deps)[0].is_terminal, 60)  # the next ticks cancel the rest
        assert jobs(deps)[0].status == JobStatus.CANCELLED
        assert not any(b["live"] for b in emu.batches(metadata={"batchdrop_job": job.job_id}))
