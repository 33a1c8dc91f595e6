"""shared/batches/parallel.py: the parts of one job advanced on threads under its one lease
keep every thread's part, share writes, and stop starting parts after a failure."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest

from shared.batches.parallel import each_part, in_parallel
from shared.jobs.lease import claim
from shared.jobs.model import Job, JobStatus, Part, Stop, StopReason, utcnow
from tests.fakes import make_deps


class CountingStore:
    def __init__(self, store) -> None:
        self.store, self.saves = store, 0

    def __getattr__(self, name):
        return getattr(self.store, name)

    def save(self, job, release=False):
        self.saves += 1
        time.sleep(0.002)  # a write takes a while: others queue behind it
        return self.store.save(job, release)


def leased_job(parts: int):
    deps = make_deps()
    counting = CountingStore(deps.store)
    deps = replace(deps, store=counting)
    rows = tuple(Part(n, "dep", "/v1/chat/completions", 1) for n in range(parts))
    job = deps.store.create(replace(Job.new("in", "x.jsonl", "e"), parts=rows))
    job = claim(deps.store, replace(job, status=JobStatus.SUBMITTING), 60, 0)
    assert job is not None
    return deps, counting, job


def two_saves(deps, job, part):
    job = deps.store.save(job.with_part(replace(part, file_id=f"file-{part.index}")))
    part = job.parts[part.index]
    return deps.store.save(job.with_part(replace(part, batch_id=f"batch-{part.index}")))


def test_every_threads_part_is_saved_and_waiting_saves_share_one_write():
    deps, counting, job = leased_job(40)
    after = each_part(deps, job, job.parts, two_saves)
    stored = deps.store.get(job.job_id)
    for parts in (after.parts, stored.parts):
        assert [(p.file_id, p.batch_id) for p in parts] == [
            (f"file-{n}", f"batch-{n}") for n in range(40)
        ]
    assert counting.saves < 80  # 80 saves asked for, fewer writes made
    assert deps.store.save(after).parts == after.parts  # the step's copy is the latest


def test_changes_a_thread_did_not_save_reach_the_steps_own_save():
    deps, _, job = leased_job(3)

    def unsaved(deps, job, part):
        return job.with_part(replace(part, remote_status="failed"))

    after = each_part(deps, job, job.parts, unsaved)
    assert [p.remote_status for p in after.parts] == ["failed"] * 3
    assert [p.remote_status for p in deps.store.get(job.job_id).parts] == [None] * 3
    assert [p.remote_status for p in deps.store.save(after).parts] == ["failed"] * 3


def test_a_failing_part_starts_no_more_and_its_error_comes_out():
    deps, _, job = leased_job(60)
    started: list[int] = []

    def fails_at_five(deps, job, part):
        started.append(part.index)
        if part.index == 5:
            raise RuntimeError("the service said no")
        time.sleep(0.01)
        return two_saves(deps, job, part)

    with pytest.raises(RuntimeError, match="said no"):
        each_part(deps, job, job.parts, fails_at_five)
    assert 5 in started and len(started) < 60


def test_a_stopped_job_starts_no_more_parts():
    deps, _, job = leased_job(30)

    cancel = Stop(StopReason.CANCEL, "a person asked", utcnow())

    def stop_at_two(deps, job, part):
        job = two_saves(deps, job, part)
        return replace(job, stop=cancel) if part.index == 2 else job  # as a re-read finds it

    after = each_part(deps, job, job.parts, stop_at_two, until=lambda j: j.stop is not None)
    assert sum(p.batch_id is not None for p in after.parts) < 30 and after.stop == cancel


def test_one_part_runs_on_the_callers_thread_and_results_keep_their_order():
    deps, _, job = leased_job(1)
    seen: list[str] = []

    def note(deps, job, part):
        seen.append(threading.current_thread().name)
        return job

    each_part(deps, job, job.parts, note)
    assert seen == [threading.current_thread().name]
    assert in_parallel(lambda n: n * n, list(range(50))) == [n * n for n in range(50)]
