"""F2: a crash after each external side effect, then the normal triggers: the job converges
with one batch, every request accounted for, nothing left at the service, identical outputs."""

from __future__ import annotations

import time

import pytest

from shared import crash
from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import files_left, jsonl
from tests.integration.test_flow import chat, jobs, output, upload
from tests.integration.test_flow_faults import assert_conserved, new_batches

POINTS = [
    "after_file_upload",
    "after_batch_create",
    "after_output_collected",
    "after_outputs_written",
]


def drive_through_crashes(host, deps, timeout: float = 30.0) -> int:
    """Run triggers like the platform would, surviving simulated crashes; count them."""
    crashes = 0
    deadline = time.monotonic() + timeout
    while not (jobs(deps) and jobs(deps)[0].cleaned):
        assert time.monotonic() < deadline, "the job did not converge"
        for call in (host.deliver_new_blobs, host.fire_timer, host.drain_queue):
            try:
                call()
            except crash.Crash:
                crashes += 1
        time.sleep(0.1)
    return crashes


@pytest.mark.parametrize("point", POINTS)
def test_crash_after_each_side_effect_converges(app_env, host, emulator, point):
    app_env()
    deps = default_deps()
    before = {b["id"] for b in emulator.state()["batches"]}
    ids = [f"k{i}" for i in range(4)]
    upload(deps, "crash.jsonl", jsonl([chat(c, c) for c in ids]))
    crash.ARMED.add(point)
    snapshot: dict[str, bytes | None] = {}
    if point == "after_outputs_written":
        # Keep what the crashed run wrote, to compare with the final outputs (I4).
        def keep(name: str) -> None:
            for f in ("results.jsonl", "errors.jsonl", "summary.json"):
                snapshot[f] = output(deps, f"crash/{f}")

        crash.BEFORE_CRASH.append(keep)
    try:
        crashes = drive_through_crashes(host, deps)
    finally:
        crash.ARMED.clear()
        crash.BEFORE_CRASH.clear()
    assert crashes == 1
    [job] = jobs(deps)
    assert job.status == JobStatus.COMPLETED
    assert len(new_batches(emulator, before)) == 1  # I1
    assert_conserved(deps, "crash", ids)  # I2
    assert files_left(emulator, job.job_id) == []  # I6
    for name, data in snapshot.items():
        assert output(deps, f"crash/{name}") == data  # I4: byte-identical
