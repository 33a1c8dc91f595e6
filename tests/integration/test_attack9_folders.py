"""Issue 9 (attack): the output folder. A folder someone else holds (its ownership marker or
an output leased by a person's tool, a marker that is not ours) never keeps a job from ending
(I3); and the newest upload owns its folder even when it was written in the same second as
the one before and recorded by a worker whose clock runs behind (I9)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

from shared.deps import default_deps
from shared.jobs.model import Job, JobStatus
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


def _two_versions_in_one_second(deps, host, name: str) -> bool:
    """v1 (not JSON: rejected and published at once), then v2 in the same second."""
    while time.time() % 1 > 0.05:
        time.sleep(0.01)
    upload(deps, name, b"this is not json\n")
    host.deliver_blob(name)
    upload(deps, name, jsonl([chat("a", "the fixed file")]))
    [v1] = jobs(deps)
    blob = deps.blobs.get_blob_client(deps.settings.input_container, name)
    return v1.blob_modified == blob.get_blob_properties().last_modified


def _recorded_30_seconds_behind(deps, name: str) -> Job:
    """The newer version's job as a worker whose clock is 30 s slow records it (inside the
    default BATCH_CLOCK_SKEW_SECONDS of 60)."""
    props = deps.blobs.get_blob_client(deps.settings.input_container, name).get_blob_properties()
    job = Job.new(deps.settings.input_container, name, props.etag, props.last_modified)
    created = deps.store.create(replace(job, created_at=job.created_at - timedelta(seconds=30)))
    assert created is not None
    return created


def test_the_newest_version_owns_its_folder_whatever_the_recording_workers_clock(app_env, host):
    app_env()
    deps = default_deps()
    for attempt in range(5):
        name = f"v{attempt}.jsonl"
        if _two_versions_in_one_second(deps, host, name):
            break
    else:
        raise AssertionError("could not write two versions within one second")
    newer = _recorded_30_seconds_behind(deps, name)
    pump(host, lambda: deps.store.get(newer.job_id).cleaned)
    final = deps.store.get(newer.job_id)
    assert final.status == JobStatus.COMPLETED, (final.status, final.last_error)
    assert summary_of(deps, name.removesuffix(".jsonl"))["job_id"] == newer.job_id
