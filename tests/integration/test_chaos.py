"""The project's own adversary (issue 9): two host processes against one Azurite and one
emulator with every fault on at random (fixed seed), about 30 inputs of every kind and size
with duplicates, overwrites, deletes, cancels and a killed host; once faults are off and
everything settled, every invariant is checked. BATCHDROP_CHAOS_SOAK=1 runs longer, with
more inputs, more killed hosts and several seeds (BATCHDROP_CHAOS_SEEDS=1,2,3 to choose)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.emulator import Emulator, EmulatorConfig, Timings
from tests.conftest import API_KEY, DEPLOYMENTS
from tests.integration.chaos.checks import violations
from tests.integration.chaos.run import ChaosRun, Plan

SOAK = os.environ.get("BATCHDROP_CHAOS_SOAK", "") == "1"
SEEDS = [int(s) for s in os.environ.get("BATCHDROP_CHAOS_SEEDS", "").split(",") if s.strip()]
# For a closer look at one run: fewer inputs, another fault scale, no host kills.
TUNE = {
    key: float(os.environ[f"BATCHDROP_CHAOS_{name}"])
    for key, name in (("inputs", "INPUTS"), ("fault_scale", "SCALE"), ("kills", "KILLS"))
    if os.environ.get(f"BATCHDROP_CHAOS_{name}")
}
CI_PLAN = Plan(seed=SEEDS[0] if SEEDS else 9).tuned(TUNE)
SOAK_PLANS = [
    Plan(seed=s, inputs=80, spread=60.0, kills=4, settle_timeout=240.0, bound=300.0)
    for s in (SEEDS or [1, 2, 3])
]
if TUNE:
    SOAK_PLANS = [p.tuned(TUNE) for p in SOAK_PLANS]


@pytest.fixture
def chaos_emulator() -> Iterator[Emulator]:
    """Its own emulator: the run's faults touch no other test, and its state lists only the
    run's files and batches."""
    timings = Timings(
        file_processing=0.1, validating=0.2, in_progress=1.0, finalizing=0.1, cancelling=0.2
    )
    config = EmulatorConfig(port=0, api_key=API_KEY, deployments=DEPLOYMENTS, timings=timings)
    with Emulator(config) as running:
        yield running


def report(run: ChaosRun, found: dict[str, list[str]]) -> dict[str, Any]:
    figures = {**run.figures, "violations": {k: len(v) for k, v in found.items() if v}}
    print("\nchaos figures:", json.dumps(figures, indent=1, sort_keys=True))
    (run.folder / "figures.json").write_text(json.dumps({**figures, "found": found}, indent=1))
    return figures


@pytest.mark.timeout(900 if SOAK else 300)
@pytest.mark.parametrize("plan", SOAK_PLANS if SOAK else [CI_PLAN], ids=lambda p: f"seed{p.seed}")
def test_chaos_leaves_every_invariant_standing(plan, azurite, chaos_emulator, tmp_path):
    run = ChaosRun(plan, azurite, chaos_emulator, tmp_path)
    world = run.execute()
    found = violations(world)
    figures = report(run, found)
    if plan.fault_scale:  # every kind of fault was met at least once
        assert [k for k, n in figures["faults applied"].items() if not n] == []
    assert figures["events"]["host kills"] == plan.kills
    assert {k: v for k, v in found.items() if v} == {}, f"see {tmp_path}"
