"""The resource that runs a job's batch is gone for good (deleted, or moved away from), and
AZURE_OPENAI_ENDPOINT now names another one. The job waits naming the setting, and its message
says: "if that resource is gone for good, cancel the job and upload the file again" (issue 9,
second attack). A person's cancel asks the part's own endpoint: a resource that no longer
connects (or no longer knows the batch) closes the part and the job ends `cancelled` at once; a
resource that refuses the app's key keeps the job waiting and says so. A resource that still
answers is never cancelled through that side door (test_endpoint_moved_stop.py): the job ends
`failed` after BATCH_CONFIG_WAIT_HOURS, and its clean-up does not wait for the setting for ever:
it closes, naming the batch it could not cancel."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from devtools.emulator import Emulator, EmulatorConfig, Timings
from shared.deps import default_deps
from shared.jobs.model import Job, JobStatus, StopReason
from tests.conftest import API_KEY, DEPLOYMENTS, jsonl
from tests.integration.test_endpoint_moved import point_at, tick
from tests.integration.test_endpoint_moved_stop import slow_resource  # noqa: F401 - fixture
from tests.integration.test_flow import chat, jobs, upload

WAIT_HOURS = 0.0005  # BATCH_CONFIG_WAIT_HOURS: under two seconds here


@contextmanager
def own_resource() -> Iterator[Emulator]:
    """The job's own resource, its batches running for a minute; stopped on leaving."""
    timings = Timings(
        file_processing=0.05, validating=0.05, in_progress=60, finalizing=0.05, cancelling=0.05
    )
    config = EmulatorConfig(port=0, api_key=API_KEY, deployments=DEPLOYMENTS, timings=timings)
    with Emulator(config) as running:
        yield running


def _started(app_env, host, url: str, name: str, **env: str) -> Job:
    app_env(AZURE_OPENAI_ENDPOINT=url, **env)
    upload(default_deps(), name, jsonl([chat(f"g{i}", "x") for i in range(2)]))
    assert host.deliver_new_blobs() == 1
    [job] = jobs(default_deps())
    assert job.parts[0].batch_id
    return job


def _cancel_after_move(host, monkeypatch, url: str, job: Job, ticks: int) -> Job:
    point_at(monkeypatch, url)  # the job's resource is gone; this is the new one
    assert default_deps().store.request_stop(job.job_id, StopReason.CANCEL, "a person")
    for _ in range(ticks):
        tick(host, 1)
        time.sleep(0.3)
    return jobs(default_deps())[0]


def test_a_cancelled_job_whose_resource_is_gone_ends_and_is_closed(
    app_env,
    host,
    emulator,
    slow_resource,  # noqa: F811
    monkeypatch,
):
    job = _started(
        app_env, host, slow_resource.url, "gone/c.jsonl", BATCH_CONFIG_WAIT_HOURS=str(WAIT_HOURS)
    )
    after = _cancel_after_move(host, monkeypatch, emulator.url, job, 20)
    assert after.is_terminal, (after.status, after.last_error)
    assert after.cleaned, (after.status, after.last_error)  # its clean-up does not go on for ever
    assert job.parts[0].batch_id in after.last_error  # named: left running at its resource


def test_a_cancel_closes_a_job_whose_resource_no_longer_connects(
    app_env, host, emulator, monkeypatch
):
    with own_resource() as old:
        job = _started(app_env, host, old.url, "gone/d.jsonl")
    # The old resource is deleted: its endpoint no longer connects. The wait is the default week.
    after = _cancel_after_move(host, monkeypatch, emulator.url, job, 4)
    assert after.status == JobStatus.CANCELLED, (after.status, after.last_error)
    assert after.cleaned
    assert after.parts[0].errors[0]["code"] == "resource_gone"


def test_a_cancel_waits_when_the_jobs_resource_refuses_the_key(
    app_env, host, emulator, monkeypatch
):
    with own_resource() as old:
        job = _started(app_env, host, old.url, "gone/k.jsonl")
        old.set_faults([{"kind": "http", "path": "/batches", "status": 401, "times": None}])
        during = _cancel_after_move(host, monkeypatch, emulator.url, job, 3)
        assert during.status == JobStatus.WAITING, (during.status, during.last_error)
        assert "answers 401" in during.last_error
        assert [b["status"] for b in old.state()["batches"]] == ["in_progress"]


def test_a_cancel_closes_a_job_whose_resource_no_longer_knows_the_batch(
    app_env, host, emulator, monkeypatch
):
    with own_resource() as old:
        job = _started(app_env, host, old.url, "gone/n.jsonl")
        # A new resource of the same name: it answers a list, and 404 for the job's batch.
        old.set_faults([{"kind": "http", "path": "/batches/[^/]+$", "status": 404, "times": None}])
        after = _cancel_after_move(host, monkeypatch, emulator.url, job, 4)
        assert after.status == JobStatus.CANCELLED, (after.status, after.last_error)
        assert after.cleaned
        assert after.parts[0].errors[0]["code"] == "resource_gone"
