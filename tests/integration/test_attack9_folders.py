"""Issue 9 (attack): the output folder. A folder someone else holds (its ownership marker or
an output leased by a person's tool, a marker that is not ours) never keeps a job from ending
(I3)."""

from __future__ import annotations

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from shared.storage.ownership import MARKER
from tests.conftest import jsonl
from tests.integration.attack9_kit import pump
from tests.integration.test_flow import chat, jobs, summary_of, upload


def ended() -> bool:
    found = jobs(default_deps())
    return bool(found) and all(j.is_terminal and j.cleaned for j in found)


def test_a_marker_leased_by_someone_else_ends_the_job_failed_with_the_reason(app_env, host):
    app_env(BATCH_MAX_STEP_FAILURES="3")
    deps = default_deps()
    marker = deps.output.get_blob_client(f"m/{MARKER}")
    marker.upload_blob(b"{}")
    marker.acquire_lease(lease_duration=-1)  # a person's tool, a backup job
    upload(deps, "m.jsonl", jsonl([chat("a", "x")]))
    pump(host, ended)
    [job] = jobs(deps)
    assert job.status == JobStatus.FAILED
    assert "summary.json could not be written" in job.last_error


def test_a_completion_failing_after_writing_some_outputs_ends_failed(app_env, host):
    """results.jsonl is written, then results.csv cannot be (leased): every completion, and
    the give-up's own summary, fail at the same point."""
    app_env(BATCH_MAX_STEP_FAILURES="3")
    deps = default_deps()
    held = deps.output.get_blob_client("p/results.csv")
    held.upload_blob(b"custom_id,answer\n")
    held.acquire_lease(lease_duration=-1)
    upload(deps, "p.jsonl", jsonl([{"custom_id": "a", "prompt": "a prompt file makes a CSV"}]))
    pump(host, ended)
    assert jobs(deps)[0].status == JobStatus.FAILED


def test_a_marker_that_is_not_a_json_object_is_written_over(app_env, host):
    app_env()
    deps = default_deps()
    deps.output.upload_blob(f"k/{MARKER}", b"[]")  # a sync tool's placeholder, a bad restore
    upload(deps, "k.jsonl", jsonl([chat("a", "x")]))
    pump(host, ended)
    [job] = jobs(deps)
    assert job.status == JobStatus.COMPLETED, job.last_error
    assert summary_of(deps, "k")["job_id"] == job.job_id
