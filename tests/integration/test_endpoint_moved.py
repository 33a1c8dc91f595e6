"""AZURE_OPENAI_ENDPOINT changed to another working resource while a job runs (dev instead of
prod, another region): a 404 there for the job's batch or file is a wrong setting, never a
batch that is gone. The job waits naming the setting, sends nothing to the other resource,
and once the setting is back it collects its batch: nothing billed twice, no files left."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.deps import default_deps
from tests.conftest import files_left, jsonl, run_until
from tests.integration.attack9_kit import emulator_with
from tests.integration.test_flow import chat, jobs, summary_of, upload


@pytest.fixture
def other_resource() -> Iterator[Any]:
    """A second Azure OpenAI resource with the same key and deployment names."""
    with emulator_with(in_progress=0.2, cancelling=0.05) as running:
        yield running


@pytest.fixture
def faults(emulator) -> Iterator[Any]:
    yield emulator.set_faults
    emulator.clear_faults()


def point_at(monkeypatch, url: str) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", url)
    default_deps.cache_clear()  # a changed app setting restarts the app


def tick(host, times: int) -> None:
    for _ in range(times):
        host.fire_timer()
        host.drain_queue()


def batches_of(emulator, job_id: str) -> list[str]:
    return [
        b["id"]
        for b in emulator.state()["batches"]
        if (b.get("metadata") or {}).get("batchdrop_job") == job_id
    ]


def test_a_running_batch_is_not_failed_when_the_endpoint_names_another_resource(
    app_env, host, emulator, other_resource, monkeypatch
):
    env = app_env()
    deps = default_deps()
    upload(deps, "moved/run.jsonl", jsonl([chat(f"o{i}", f"q{i}") for i in range(3)]))
    assert host.deliver_new_blobs() == 1
    [job] = jobs(deps)
    assert job.parts[0].batch_id
    point_at(monkeypatch, other_resource.url)
    tick(host, 3)
    [during] = jobs(default_deps())
    point_at(monkeypatch, env["AZURE_OPENAI_ENDPOINT"])  # set back
    run_until(host, lambda: jobs(default_deps())[0].cleaned, 30)
    summary = summary_of(default_deps(), "moved/run")

    assert during.is_paused, (during.status, during.last_error)
    assert "AZURE_OPENAI_ENDPOINT" in during.last_error
    assert env["AZURE_OPENAI_ENDPOINT"] in during.last_error  # where to set it back to
    assert other_resource.state()["batches"] == [] and other_resource.state()["files"] == []
    assert summary["status"] == "completed", (summary["status"], summary["errors"])
    assert summary["counts"]["succeeded"] == 3
    assert len(batches_of(emulator, job.job_id)) == 1  # billed once
    assert files_left(emulator, job.job_id) == []


def test_a_file_waiting_for_its_batch_is_not_uploaded_again_at_another_resource(
    app_env, host, emulator, other_resource, faults, monkeypatch
):
    """The file is uploaded, its batch waits for quota; the endpoint then names another
    resource, which answers 404 for the file when the batch is created there."""
    env = app_env()
    deps = default_deps()
    faults([{"kind": "token_limit_exceeded", "stage": "create", "times": None}])
    upload(deps, "moved/wait.jsonl", jsonl([chat("w1", "a"), chat("w2", "b")]))
    assert host.deliver_new_blobs() == 1
    [job] = jobs(deps)
    assert job.parts[0].file_id and not job.parts[0].batch_id
    point_at(monkeypatch, other_resource.url)
    run_until(host, lambda: jobs(default_deps())[0].is_paused, 20)
    [during] = jobs(default_deps())
    faults([])
    point_at(monkeypatch, env["AZURE_OPENAI_ENDPOINT"])
    run_until(host, lambda: jobs(default_deps())[0].cleaned, 30)
    summary = summary_of(default_deps(), "moved/wait")

    assert "AZURE_OPENAI_ENDPOINT" in during.last_error, during.last_error
    assert other_resource.state()["batches"] == [] and other_resource.state()["files"] == []
    assert summary["status"] == "completed" and summary["counts"]["succeeded"] == 2
    assert len(batches_of(emulator, job.job_id)) == 1
    assert files_left(emulator, job.job_id) == []
