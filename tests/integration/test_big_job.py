"""A job of 1,000 batches through the registered functions, Azurite and the emulator (I11,
F23): every batch created once, tracked, merged in input order and cleaned up."""

from __future__ import annotations

import time
from collections import Counter

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import files_left, jsonl, read_jsonl, run_until
from tests.integration.test_flow import chat, jobs, output, summary_of, upload

BATCHES = 1_000


def test_a_job_of_1000_batches_is_prepared_tracked_merged_and_cleaned_up(app_env, host, emulator):
    # One request per batch; a lease long enough that the step does not renew it before
    # every call (the suite's 2 s lease would, which is a test of its own).
    app_env(BATCH_MAX_REQUESTS="1", BATCH_FILE_WAIT_SECONDS="0", BATCH_LEASE_SECONDS="60")
    deps = default_deps()
    before = {b["id"] for b in emulator.state()["batches"]}
    upload(deps, "big/job.jsonl", jsonl([chat(f"r{n}", f"q{n}") for n in range(BATCHES)]))
    started = time.monotonic()
    assert host.deliver_new_blobs() == 1
    [job] = jobs(deps)
    assert len(job.parts) == BATCHES and job.total == BATCHES
    run_until(host, lambda: jobs(deps)[0].cleaned, timeout=300)
    print(f"\n1,000 batches: {time.monotonic() - started:.1f} s from upload to cleaned up")

    [job] = jobs(deps)
    assert job.status == JobStatus.COMPLETED
    created = [b for b in emulator.state()["batches"] if b["id"] not in before]
    per_part = Counter(b["metadata"]["batchdrop_part"] for b in created)
    assert len(created) == BATCHES and set(per_part.values()) == {1}  # each exactly once
    assert {p.batch_id for p in job.parts} == {b["id"] for b in created}  # every one tracked
    assert all(p.remote_status == "completed" and p.collected for p in job.parts)
    results = read_jsonl(output(deps, "big/job/results.jsonl"))
    assert [r["custom_id"] for r in results] == [f"r{n}" for n in range(BATCHES)]
    assert [r["line"] for r in results] == list(range(1, BATCHES + 1))
    assert all(r["status"] == "succeeded" for r in results)
    summary = summary_of(deps, "big/job")
    assert summary["counts"] == {"total": BATCHES, "succeeded": BATCHES, "failed": 0}
    assert len(summary["batches"]) == BATCHES
    assert files_left(emulator, job.job_id) == []  # I6: nothing left at the service
    assert list(deps.work.list_blobs(name_starts_with=job.job_id)) == []
