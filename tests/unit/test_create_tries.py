"""A create's tries after 429s, against the Protocol fakes: each try is sent under its own
intent record and lease check, so a late create is waited for from the try that was sent and a
worker that lost its lease meanwhile sends nothing more; a batch it made but cannot record is
cancelled (F3, F21, I1, I10)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import pytest

from shared.batches.active import advance_active
from shared.batches.service import RateLimited, RemoteBatch
from shared.deps import Deps
from shared.jobs.lease import LeaseLost, claim
from shared.jobs.model import Conflict, Job
from tests.fakes import FakeService
from tests.unit.test_submit import setup


@dataclass
class Scripted(FakeService):
    """FakeService that runs `before` at each create, before answering."""

    before: list = field(default_factory=list)
    seen_at: list[int | None] = field(default_factory=list)

    def create_batch(self, file_id: str, endpoint: str, metadata: dict[str, str]) -> RemoteBatch:
        if self.before:
            self.before.pop(0)()
        return super().create_batch(file_id, endpoint, metadata)


def take_over(deps: Deps, job: Job) -> None:
    """Another worker claims the job, as after this one's lease ran out."""
    stored = deps.store.get(job.job_id)
    stored.lease.owner = ""
    assert claim(deps.store, stored, 60, 0) is not None


def test_each_try_after_a_429_writes_the_intent_again_with_its_own_time():
    api = Scripted(create_errors=[RateLimited(1.1), RateLimited(0.01)])
    deps, job = setup(api)

    def record() -> None:
        api.seen_at.append(deps.store.get(job.job_id).parts[0].creating_at)

    api.before = [record, record, record]
    sent = time.time()
    job = advance_active(deps, job)
    assert job.parts[0].batch_id and [c for c, _ in api.calls].count("create_batch") == 3
    first, second, third = api.seen_at
    assert first == math.ceil(sent) or first == math.ceil(sent) + 1
    assert second >= first + 1 and third >= second  # the wait counts from the last try


def test_a_worker_that_lost_its_lease_in_the_back_off_sends_no_more_tries():
    api = Scripted(create_errors=[RateLimited(0.01)])
    deps, job = setup(api)
    api.before = [lambda: take_over(deps, job)]  # taken over while the first try is out
    with pytest.raises((LeaseLost, Conflict)):
        advance_active(deps, job)
    assert [c for c, _ in api.calls].count("create_batch") == 1
    assert api.batches == {}


def test_a_batch_made_after_the_lease_was_lost_is_cancelled_not_left_running():
    api = Scripted()
    deps, job = setup(api)
    api.before = [lambda: take_over(deps, job)]  # the create goes out, then its record fails
    with pytest.raises((LeaseLost, Conflict)):
        advance_active(deps, job)
    [made] = api.batches
    assert ("cancel_batch", made) in api.calls
    assert deps.store.get(job.job_id).parts[0].batch_id is None
