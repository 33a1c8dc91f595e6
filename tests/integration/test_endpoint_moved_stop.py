"""A stop (a person's cancel, or a newer upload superseding the job) while AZURE_OPENAI_ENDPOINT
names another working resource than the one running the job's batch: asked there, the cancel
answers 404 and would read as "already gone" while the batch runs on, billed, at its own
resource. The job waits naming the setting instead, sends nothing to the other resource, and
cancels the batch once the setting is set back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.deps import default_deps
from shared.jobs.model import JobStatus, StopReason
from tests.conftest import jsonl, run_until
from tests.integration.attack9_kit import emulator_with
from tests.integration.test_endpoint_moved import batches_of, point_at, tick
from tests.integration.test_flow import chat, jobs, upload


@pytest.fixture
def slow_resource() -> Iterator[Any]:
    """The job's own resource, whose batches run for a minute (a stop always meets them live)."""
    with emulator_with(in_progress=60, cancelling=0.05) as running:
        yield running


def _statuses(resource: Any) -> list[str]:
    return [b["status"] for b in resource.state()["batches"]]


def _cancelled_at(resource: Any) -> bool:
    return all(s in ("cancelling", "cancelled") for s in _statuses(resource))


def _started(app_env, host, resource: Any, name: str) -> tuple[dict[str, str], str]:
    env = app_env(AZURE_OPENAI_ENDPOINT=resource.url)
    upload(default_deps(), name, jsonl([chat(f"m{i}", "x") for i in range(2)]))
    assert host.deliver_new_blobs() == 1
    [job] = jobs(default_deps())
    assert job.parts[0].batch_id
    return env, job.job_id


def test_a_cancel_while_the_endpoint_names_another_resource_waits_then_cancels(
    app_env, host, emulator, slow_resource, monkeypatch
):
    env, job_id = _started(app_env, host, slow_resource, "mv/c.jsonl")
    point_at(monkeypatch, emulator.url)
    assert default_deps().store.request_stop(job_id, StopReason.CANCEL, "a person")
    tick(host, 3)
    [during] = jobs(default_deps())
    assert not during.is_terminal, (during.status, during.last_error)
    assert during.status == JobStatus.WAITING
    assert "AZURE_OPENAI_ENDPOINT" in during.last_error
    assert _statuses(slow_resource) == ["in_progress"]  # not marked cancelled: still live
    assert batches_of(emulator, job_id) == []
    point_at(monkeypatch, env["AZURE_OPENAI_ENDPOINT"])
    run_until(host, lambda: _cancelled_at(slow_resource), 20)
    run_until(host, lambda: jobs(default_deps())[0].is_terminal, 20)
    assert jobs(default_deps())[0].status == JobStatus.CANCELLED


def test_a_superseded_job_s_batch_is_cancelled_once_the_endpoint_is_set_back(
    app_env, host, emulator, slow_resource, monkeypatch
):
    env, job_id = _started(app_env, host, slow_resource, "mv/s.jsonl")
    point_at(monkeypatch, emulator.url)
    upload(default_deps(), "mv/s.jsonl", jsonl([chat(f"s{i}", "y") for i in range(2)]))
    assert host.deliver_new_blobs() == 1
    tick(host, 3)
    older = next(j for j in jobs(default_deps()) if j.job_id == job_id)
    assert not older.is_terminal, (older.status, older.last_error)
    assert "AZURE_OPENAI_ENDPOINT" in older.last_error
    assert _statuses(slow_resource) == ["in_progress"]
    point_at(monkeypatch, env["AZURE_OPENAI_ENDPOINT"])
    run_until(host, lambda: _cancelled_at(slow_resource), 20)
    older_id = job_id
    run_until(
        host,
        lambda: next(j for j in jobs(default_deps()) if j.job_id == older_id).is_terminal,
        20,
    )
    ended = next(j for j in jobs(default_deps()) if j.job_id == older_id)
    assert ended.status == JobStatus.SUPERSEDED
