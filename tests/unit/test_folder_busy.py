"""Waiting for an output folder another job is publishing into is not a failure of the step:
a newer upload whose folder was busy for more tries than BATCH_MAX_STEP_FAILURES (ticks close
together, a large publish) gave up, `failed` (issue 9 attack 9b). A folder whose marker is
leased but was not written lately (a lease some other tool holds) still counts, so such a job
still ends with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.completion import complete_job
from shared.jobs.model import JobStatus
from shared.storage.names import output_prefix
from shared.storage.ownership import BUSY_LIMIT, MARKER, FolderBusy, FolderInUse
from tests.fakes import make_deps
from tests.unit.test_completion import Answers, answer, completing_job


def _leased_marker(deps, job, written: datetime) -> None:
    name = f"{output_prefix(job.name)}/{MARKER}"
    deps.output.upload_blob(name, b"{}")
    deps.output.stamps[name] = written
    deps.output.leased.add(name)  # another publisher holds it


def _tries(deps, job, error: type[Exception], times: int) -> None:
    for _ in range(times):
        with pytest.raises(error):
            complete_job(deps, job.job_id)


def test_a_folder_another_job_is_publishing_into_is_waited_for_without_counting():
    deps = make_deps(Answers({"out-0": [answer("a")]}), BATCH_MAX_STEP_FAILURES="2")
    job = completing_job(deps, ["a"])
    _leased_marker(deps, job, datetime.now(UTC))
    _tries(deps, job, FolderInUse, 5)
    stored = deps.store.get(job.job_id)
    assert stored.status == JobStatus.COMPLETING and stored.step_failures == 0
    deps.output.leased.clear()  # the other publisher is done
    assert complete_job(deps, job.job_id).status == JobStatus.COMPLETED


def test_a_marker_leased_long_after_it_was_written_counts_and_the_job_gives_up():
    deps = make_deps(Answers({"out-0": [answer("a")]}), BATCH_MAX_STEP_FAILURES="2")
    job = completing_job(deps, ["a"])
    _leased_marker(deps, job, datetime.now(UTC) - BUSY_LIMIT - timedelta(minutes=1))
    _tries(deps, job, FolderBusy, 2)
    assert deps.store.get(job.job_id).step_failures == 2
    ended = complete_job(deps, job.job_id)
    assert ended.status == JobStatus.FAILED, ended.status
