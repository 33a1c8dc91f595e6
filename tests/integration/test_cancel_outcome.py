"""What a cancel makes of a job: one that reaches a running batch ends the job `cancelled`,
with the answers that had arrived; one that comes after every batch completed at the service
(every request answered) stopped nothing, and the job ends `completed`, saying so."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import files_left, jsonl, run_until
from tests.integration.attack9_kit import emulator_with
from tests.integration.test_flow import chat, jobs, summary_of, upload


@pytest.fixture
def slow_resource() -> Iterator[Any]:
    """An Azure OpenAI resource whose batches run for a minute: a cancel surely finds them."""
    with emulator_with(in_progress=60, cancelling=0.05) as running:
        yield running


@pytest.fixture
def api(host) -> Iterator[str]:
    from devtools.host.http import serve

    server = serve(host.app, port=0)
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()


def cancel(api: str, job_id: str) -> int:
    request = urllib.request.Request(f"{api}/jobs/{job_id}/cancel", method="POST")
    with urllib.request.urlopen(request) as answer:
        return answer.status


def test_a_cancel_that_reaches_a_running_batch_cancels_the_job(app_env, host, api, slow_resource):
    app_env(AZURE_OPENAI_ENDPOINT=slow_resource.url)
    deps = default_deps()
    upload(deps, "co/running.jsonl", jsonl([chat(f"r{i}", "x") for i in range(3)]))
    assert host.deliver_new_blobs() == 1
    [job] = jobs(deps)
    assert job.parts[0].batch_id and cancel(api, job.job_id) == 202
    run_until(host, lambda: jobs(deps)[0].cleaned, 30)
    [done] = jobs(deps)
    assert done.status == JobStatus.CANCELLED, (done.status, done.last_error)
    assert summary_of(deps, "co/running")["status"] == "cancelled"
    assert files_left(slow_resource, job.job_id) == []


def test_a_cancel_after_every_batch_completed_leaves_the_job_completed(
    app_env, host, api, emulator
):
    app_env()
    deps = default_deps()
    upload(deps, "co/late.jsonl", jsonl([chat(f"l{i}", "x") for i in range(3)]))
    assert host.deliver_new_blobs() == 1
    [job] = jobs(deps)
    time.sleep(1.5)  # the batch completes at the service; no tick has seen it yet
    assert jobs(deps)[0].status == JobStatus.IN_PROGRESS
    assert cancel(api, job.job_id) == 202
    run_until(host, lambda: jobs(deps)[0].cleaned, 30)
    [done] = jobs(deps)
    summary = summary_of(deps, "co/late")
    assert done.status == JobStatus.COMPLETED, (done.status, done.last_error)
    assert "came after every batch had ended" in done.last_error
    assert summary["status"] == "completed" and summary["counts"]["succeeded"] == 3
    assert files_left(emulator, job.job_id) == []
