"""Issue 9 (attack): a poll tick runs at most BATCH_POLL_BUDGET_SECONDS (README). One job of
many parts used to hold the tick, and every job behind it, until each part was uploaded and
its file processed; now its step starts no more parts once the budget is spent, and the next
ticks send the rest."""

from __future__ import annotations

import time

from devtools.emulator import Emulator, EmulatorConfig, Timings
from shared.deps import default_deps
from tests.conftest import API_KEY, DEPLOYMENTS, jsonl
from tests.integration.attack9_kit import pump
from tests.integration.test_flow import chat, jobs, upload

PARTS = 60  # a second of file processing each, eight at a time: about 8 s in one step
BUDGET = 2.0


def test_one_tick_stays_within_its_budget_for_a_job_of_many_parts(app_env, host):
    timings = Timings(
        file_processing=1.0, validating=0.05, in_progress=0.2, finalizing=0.05, cancelling=0.05
    )
    config = EmulatorConfig(port=0, api_key=API_KEY, deployments=DEPLOYMENTS, timings=timings)
    with Emulator(config) as emu:
        app_env(
            AZURE_OPENAI_ENDPOINT=emu.url,
            BATCH_MAX_REQUESTS="1",
            BATCH_POLL_BUDGET_SECONDS=str(BUDGET),
            BATCH_FILE_WAIT_SECONDS="20",
            BATCH_LEASE_SECONDS="30",
        )
        deps = default_deps()
        upload(deps, "many.jsonl", jsonl([chat(f"r{i}", "x") for i in range(PARTS)]))
        started = time.monotonic()
        host.fire_timer()  # the sweep finds the blob; the tick advances its job
        took = time.monotonic() - started
        [job] = jobs(deps)
        assert len(job.batch_ids) < PARTS  # it stopped starting parts ...
        assert took < BUDGET + 3, f"one tick ran {took:.1f}s against a budget of {BUDGET}s"
        pump(host, lambda: jobs(deps)[0].is_terminal and jobs(deps)[0].cleaned)
        assert jobs(deps)[0].status.value == "completed"  # ... and the next ticks sent them
