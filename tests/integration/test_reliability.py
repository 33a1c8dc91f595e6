"""Issue 9's findings, each as the scenario that broke a promise, through the registered
functions against Azurite and the emulator: cancels that leave nothing billed and untracked,
leases that outlast slow calls and skewed clocks, the newest upload winning its own folder,
names that cannot be read safely, steps that keep failing, and transient errors that must not
use up the one re-upload (docs/reliability.md, F20-F26)."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import openai
import pytest
from azure.storage.blob import ContentSettings

from shared.deps import default_deps
from shared.intake.receive import record_job
from shared.jobs.lease import claim
from shared.jobs.model import Job, JobStatus, StopReason, utcnow
from shared.lifecycle.advance import advance
from shared.results.publish import publish
from shared.storage.names import output_prefix
from tests.conftest import API_KEY, DEPLOYMENTS, ENTRA_SECRET, files_left, jsonl, read_jsonl
from tests.integration.test_flow import chat, jobs, output, summary_of, upload

CANARY = "CANARY-secret-" + "9d2e" * 4


@pytest.fixture
def slow_emulator(request) -> Iterator[Any]:
    """An emulator whose batches run for a while (4 s, or the test's `running` mark), so that
    something can happen meanwhile."""
    from devtools.emulator import Emulator, EmulatorConfig, Timings

    mark = request.node.get_closest_marker("running")
    seconds = mark.args[0] if mark else 4.0
    timings = Timings(
        file_processing=0.05, validating=0.05, in_progress=seconds, finalizing=0.05, cancelling=0.3
    )
    config = EmulatorConfig(
        port=0, api_key=API_KEY, entra_secret=ENTRA_SECRET, deployments=DEPLOYMENTS, timings=timings
    )
    with Emulator(config) as running:
        yield running


def settle(host, done, timeout: float = 40.0) -> None:
    """Triggers as the platform fires them, until `done()`."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "did not settle in time"
        host.deliver_new_blobs()
        host.fire_timer()
        host.drain_queue()
        time.sleep(0.1)


def job_of(deps, name: str) -> list[Job]:
    return sorted((j for j in jobs(deps) if j.name == name), key=lambda j: j.created_at)


def all_closed(deps) -> bool:
    return all(j.is_terminal and j.cleaned for j in jobs(deps))


def batches_of(emulator, job: Job) -> list[dict]:
    return emulator.batches(metadata={"batchdrop_job": job.job_id})


# F22 / I9: the newest upload wins, and every input owns its folder.


def test_a_newer_upload_supersedes_the_running_older_one_and_cancels_its_batch(
    app_env, host, slow_emulator
):
    app_env(AZURE_OPENAI_ENDPOINT=slow_emulator.url)
    deps = default_deps()
    upload(deps, "doc.jsonl", jsonl([chat("a", "old question"), chat("b", "old question")]))
    assert host.deliver_new_blobs() == 1
    [older] = job_of(deps, "doc.jsonl")
    assert deps.store.get(older.job_id).status == JobStatus.IN_PROGRESS
    upload(deps, "doc.jsonl", jsonl([chat("c", "new question")]))
    settle(host, lambda: all_closed(deps) and len(jobs(deps)) == 2)
    older, newer = (deps.store.get(j.job_id) for j in job_of(deps, "doc.jsonl"))
    assert older.status == JobStatus.SUPERSEDED and "newer upload" in older.last_error
    assert newer.status == JobStatus.COMPLETED
    [batch] = batches_of(slow_emulator, older)
    assert batch["cancel_requested"]  # its batch was cancelled at the service: money saved
    assert files_left(slow_emulator, older.job_id) == []
    summary = summary_of(deps, "doc")
    assert summary["job_id"] == newer.job_id
    assert [r["custom_id"] for r in read_jsonl(output(deps, "doc/results.jsonl"))] == ["c"]


def test_x_jsonl_and_x_csv_side_by_side_never_share_a_folder(app_env, host):
    app_env()
    deps = default_deps()
    upload(deps, "pair/x.jsonl", jsonl([chat("j", "from jsonl")]))
    upload(deps, "pair/x.csv", b"custom_id,prompt\nc,from csv\n")
    settle(host, lambda: all_closed(deps) and len(jobs(deps)) == 2)
    native, table = summary_of(deps, "pair/x"), summary_of(deps, "pair/x.csv")
    assert native["input"]["name"] == "pair/x.jsonl" and table["input"]["name"] == "pair/x.csv"
    assert [r["custom_id"] for r in read_jsonl(output(deps, "pair/x/results.jsonl"))] == ["j"]
    assert output(deps, "pair/x/results.csv") is None  # a native file has no CSV


def test_output_files_a_newer_job_does_not_produce_are_removed_from_its_folder(app_env, host):
    app_env()
    deps = default_deps()
    upload(deps, "q.jsonl", jsonl([{"custom_id": "p", "prompt": "a prompt file makes a CSV"}]))
    settle(host, lambda: all_closed(deps) and summary_of(deps, "q") is not None)
    assert output(deps, "q/results.csv") is not None
    upload(deps, "q.jsonl", jsonl([chat("n", "a native file makes none")]))
    settle(host, lambda: all_closed(deps) and len(jobs(deps)) == 2)
    newer = job_of(deps, "q.jsonl")[-1]
    assert summary_of(deps, "q")["job_id"] == newer.job_id
    assert output(deps, "q/results.csv") is None  # not left beside the newer job's summary


def test_an_older_version_never_replaces_a_newer_versions_outputs(app_env, tmp_path):
    app_env()
    deps = default_deps()
    written = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    older = Job.new("in", "race.jsonl", "e1", blob_modified=written)
    newer = Job.new("in", "race.jsonl", "e2", blob_modified=written + timedelta(seconds=1))
    results = tmp_path / "results.jsonl"
    results.write_bytes(b'{"from": "newer"}\n')
    assert publish(deps, newer, {"results.jsonl": results}, {"job_id": newer.job_id})
    results.write_bytes(b'{"from": "older"}\n')
    assert not publish(deps, older, {"results.jsonl": results}, {"job_id": older.job_id})
    assert output(deps, "race/results.jsonl") == b'{"from": "newer"}\n'
    assert summary_of(deps, "race")["job_id"] == newer.job_id


# F20 / I10: a cancel finds every batch, also one whose create answer was lost.


@pytest.mark.running(30)
def test_a_cancel_after_a_lost_create_answer_finds_cancels_and_merges_the_batch(
    app_env, host, slow_emulator
):
    app_env(AZURE_OPENAI_ENDPOINT=slow_emulator.url, AZURE_OPENAI_TIMEOUT_SECONDS="1")
    deps = default_deps()
    slow_emulator.set_faults(
        [
            {"kind": "commit_then_timeout", "delay": 2.5},
            # ...and the look-up that follows fails too (the SDK's read retries included), so
            # the job knows only that a create may have happened.
            {"kind": "http", "method": "GET", "path": "/batches$", "status": 500, "times": 4},
        ]
    )
    upload(deps, "lost.jsonl", jsonl([chat("a", "x"), chat("b", "y")]))
    with pytest.raises(openai.InternalServerError):  # the trigger fails; the host would retry
        host.deliver_blob("lost.jsonl")
    [job] = jobs(deps)
    stored = deps.store.get(job.job_id)
    assert stored.parts[0].creating and stored.parts[0].batch_id is None  # intent, no answer
    assert len(batches_of(slow_emulator, job)) == 1  # ...but the service made the batch
    assert deps.store.request_stop(job.job_id, StopReason.CANCEL, "asked by a person")
    started = time.monotonic()
    settle(host, lambda: all_closed(deps))
    assert time.monotonic() - started < 15  # a couple of ticks, not a lease's length
    final = deps.store.get(job.job_id)
    assert final.status == JobStatus.CANCELLED
    [batch] = batches_of(slow_emulator, job)
    assert batch["cancel_requested"] and batch["id"] in final.batch_ids  # found and recorded
    results = read_jsonl(output(deps, "lost/results.jsonl"))
    assert [r["custom_id"] for r in results] == ["a", "b"]  # merged: every request once
    assert summary_of(deps, "lost")["status"] == "cancelled"
    assert files_left(slow_emulator, job.job_id) == []


def test_a_cancel_never_writes_over_the_worker_that_holds_the_job(app_env, host):
    from shared import http_api

    app_env(BATCH_FILE_WAIT_SECONDS="0")
    deps = default_deps()
    upload(deps, "held.jsonl", jsonl([chat("a", "x")]))
    props = deps.blobs.get_blob_client(deps.settings.input_container, "held.jsonl")
    props = props.get_blob_properties()
    job = record_job(deps, deps.settings.input_container, "held.jsonl", props.etag, None)
    held = claim(deps.store, job, 60, 0)
    assert held is not None
    http_api.cancel_job(deps, job.job_id)  # while the worker holds the lease
    saved = deps.store.save(held.changed(last_error="the worker's own write"))  # no Conflict
    assert saved.last_error == "the worker's own write"
    deps.store.save(saved, release=True)
    assert deps.store.get(job.job_id).stop.reason == StopReason.CANCEL  # still pending
    settle(host, lambda: all_closed(deps))
    assert deps.store.get(job.job_id).status == JobStatus.CANCELLED


# F21: a call slower than the lease, and clocks that disagree.


def test_a_call_slower_than_the_lease_is_not_repeated_by_a_second_worker(app_env):
    from devtools.emulator import Emulator, EmulatorConfig, Timings

    timings = Timings(file_processing=0.05, validating=0.05, in_progress=0.2, finalizing=0.05)
    config = EmulatorConfig(
        port=0,
        api_key=API_KEY,
        entra_secret=ENTRA_SECRET,
        deployments=DEPLOYMENTS,
        timings=timings,
        latency=1.5,  # every call takes longer than the lease below
    )
    with Emulator(config) as slow:
        app_env(
            AZURE_OPENAI_ENDPOINT=slow.url,
            BATCH_LEASE_SECONDS="0.5",
            AZURE_OPENAI_TIMEOUT_SECONDS="5",
            BATCH_FILE_WAIT_SECONDS="0",
        )
        deps = default_deps()
        upload(deps, "slow.jsonl", jsonl([chat("a", "x")]))
        blob = deps.blobs.get_blob_client(deps.settings.input_container, "slow.jsonl")
        props = blob.get_blob_properties()
        job = record_job(
            deps, deps.settings.input_container, "slow.jsonl", props.etag, props.last_modified
        )
        first = threading.Thread(target=advance, args=(deps, job))
        first.start()
        seen = []
        while first.is_alive():  # a second worker keeps trying meanwhile
            current = deps.store.get(job.job_id)
            seen.append(advance(deps, current).status)
            time.sleep(0.2)
        first.join()
        for _ in range(20):  # then both go on until the batch exists
            advance(deps, deps.store.get(job.job_id))
            if deps.store.get(job.job_id).parts[0].batch_id:
                break
        state = slow.state()
        uploads = [f for f in state["files"] + state["deleted_files"] if f["purpose"] == "batch"]
        assert len([f for f in uploads if job.job_id in f.get("filename", "")]) == 1
        assert len(slow.batches(metadata={"batchdrop_job": job.job_id})) == 1
        assert seen  # the second worker did try while the slow call ran


def test_a_lease_is_not_taken_from_a_worker_whose_clock_runs_45_seconds_behind(app_env):
    app_env(BATCH_CLOCK_SKEW_SECONDS="60")
    deps = default_deps()
    job = deps.store.create(Job.new("in", "skew.jsonl", "e"))
    # Another worker holds the lease; its clock is 45 s behind ours, so by our clock the
    # lease it wrote ran out 30 s ago although it still holds it for another 15.
    deps.store.table.upsert_entity(
        {
            "PartitionKey": job.job_id,
            "RowKey": "lease",
            "Owner": "worker-with-a-slow-clock",
            "Until": utcnow() - timedelta(seconds=30),
        }
    )
    seen = deps.store.get(job.job_id)
    assert seen.lease.held_by_other(utcnow(), deps.settings.clock_skew_seconds)
    assert claim(deps.store, seen, 60, deps.settings.clock_skew_seconds) is None
    assert claim(deps.store, seen, 60, 0) is not None  # without the margin it would be taken


# F25: exactly the named blob, as stored, or a refusal.


def test_a_blob_name_with_encoded_dot_segments_is_refused_and_nothing_else_is_read(app_env, host):
    app_env()
    deps = default_deps()
    inputs = deps.blobs.get_container_client(deps.settings.input_container)
    inputs.upload_blob("victim/secret.jsonl", jsonl([chat("v", CANARY)]))
    inputs.upload_blob("x/%2E%2E/victim/secret.jsonl", jsonl([chat("a", "harmless")]))
    host.deliver_blob("x/%2E%2E/victim/secret.jsonl")
    host.deliver_blob("x/../victim/secret.jsonl")  # an event for a name no blob has literally
    [job] = jobs(deps)  # one job, for the literal name; none for the victim
    assert job.name == "x/%2E%2E/victim/secret.jsonl" and job.status == JobStatus.REJECTED
    folder = output_prefix(job.name)
    assert folder.startswith("x/_/victim/secret.jsonl~")  # a folder of its own, no dot segment
    [problem] = read_jsonl(output(deps, f"{folder}/errors.jsonl"))
    assert problem["error"]["code"] == "unsafe_blob_name"
    everything = b"".join(
        deps.output.download_blob(b.name).readall() for b in deps.output.list_blobs()
    )
    assert CANARY.encode() not in everything


def test_a_blob_stored_with_content_encoding_gzip_is_read_as_stored_and_refused(app_env, host):
    app_env()
    deps = default_deps()
    packed = gzip.compress(jsonl([chat(f"r{i}", "x") for i in range(300)]))
    inputs = deps.blobs.get_container_client(deps.settings.input_container)
    inputs.upload_blob(
        "packed.jsonl", packed, content_settings=ContentSettings(content_encoding="gzip")
    )
    settle(host, lambda: all_closed(deps) and summary_of(deps, "packed") is not None)
    summary = summary_of(deps, "packed")
    assert summary["status"] == "rejected"
    [problem] = read_jsonl(output(deps, "packed/errors.jsonl"))
    assert "gzip" in problem["error"]["message"].lower()


# F24: nothing loops for ever; odd shapes are reported, never crashes.


def test_a_step_that_fails_every_time_ends_the_job_failed_with_its_summary(app_env, host):
    app_env(BATCH_MAX_STEP_FAILURES="3")
    deps = default_deps()
    upload(deps, "doomed.jsonl", jsonl([chat("a", "x")]))
    # A blob leased by someone else where prepare writes its request index: every prepare
    # fails the same way (a lease conflict, not a setting a person could fix).
    props = deps.blobs.get_blob_client(deps.settings.input_container, "doomed.jsonl")
    job_id = Job.new(
        deps.settings.input_container, "doomed.jsonl", props.get_blob_properties().etag
    ).job_id
    blocker = deps.work.get_blob_client(f"{job_id}/requests.jsonl")
    blocker.upload_blob(b"")
    blocker.acquire_lease(lease_duration=-1)
    deadline = time.monotonic() + 30
    while not (jobs(deps) and jobs(deps)[0].is_terminal):
        assert time.monotonic() < deadline
        for call in (host.deliver_new_blobs, host.fire_timer):
            try:
                call()
            except Exception:  # noqa: BLE001 - the failures are the point
                pass
        time.sleep(0.1)
    [job] = jobs(deps)
    assert job.status == JobStatus.FAILED and "Gave up after 3 failed attempts" in job.last_error
    summary = summary_of(deps, "doomed")
    assert summary["status"] == "failed" and summary["errors"][0]["code"] == "gave_up"


@pytest.mark.parametrize(
    "shape", ["choices_not_objects", "response_string", "body_list", "not_json"]
)
def test_odd_shapes_in_the_services_files_are_reported_not_crashes(app_env, host, emulator, shape):
    app_env()
    deps = default_deps()
    emulator.set_faults([{"kind": "odd_shape", "shape": shape, "custom_id": "^odd$"}])
    try:
        upload(deps, "odd.jsonl", jsonl([chat("odd", "x"), chat("fine", "y")]))
        settle(host, lambda: all_closed(deps) and summary_of(deps, "odd") is not None)
    finally:
        emulator.clear_faults()
    summary = summary_of(deps, "odd")
    assert summary["status"] in ("completed", "failed")
    rows = {r["custom_id"]: r for r in read_jsonl(output(deps, "odd/results.jsonl"))}
    assert set(rows) == {"odd", "fine"} and rows["fine"]["status"] == "succeeded"


# 9.8: only uploads the service could not process use up the one re-upload.


def test_a_transient_error_does_not_use_up_the_one_re_upload(app_env, host, emulator):
    app_env(BATCH_FILE_WAIT_SECONDS="0.3")
    deps = default_deps()
    emulator.set_faults(
        [
            {"kind": "http", "method": "POST", "path": "/files$", "status": 500},
            {"kind": "file_status", "status": "error", "filename": "^batchdrop-"},
        ]
    )
    try:
        upload(deps, "flaky.jsonl", jsonl([chat(f"k{i}", "x") for i in range(15)]))
        settle(host, lambda: all_closed(deps) and summary_of(deps, "flaky") is not None)
    finally:
        emulator.clear_faults()
    summary = summary_of(deps, "flaky")
    assert summary["status"] == "completed" and summary["counts"]["succeeded"] == 15


# F23 / I11: values a user controls stay inside the table's limits.


def test_a_33000_character_deployment_name_is_refused_with_a_reason(app_env, host):
    app_env(BATCH_ALLOWED_DEPLOYMENTS="")
    deps = default_deps()
    upload(deps, "long.jsonl", jsonl([chat("a", "x", model="d" * 33_000)]))
    settle(host, lambda: all_closed(deps) and summary_of(deps, "long") is not None)
    [problem] = read_jsonl(output(deps, "long/errors.jsonl"))
    assert problem["error"]["code"] == "deployment_name_too_long"
    assert jobs(deps)[0].status == JobStatus.REJECTED


def test_each_job_has_a_partition_of_its_own(app_env):
    app_env()
    deps = default_deps()
    a = deps.store.create(Job.new("in", "a.jsonl", "e"))
    b = deps.store.create(Job.new("in", "b.jsonl", "e"))
    keys = {e["PartitionKey"] for e in deps.store.table.query_entities("RowKey eq 'job'")}
    assert {a.job_id, b.job_id} <= keys
    assert len({a.job_id, b.job_id}) == 2


def test_a_completion_that_fails_every_time_ends_failed_instead_of_looping(app_env, host):
    app_env(BATCH_MAX_STEP_FAILURES="3")
    deps = default_deps()
    upload(deps, "poison.jsonl", jsonl([chat("a", "x")]))
    host.deliver_new_blobs()
    deadline = time.monotonic() + 20
    while deps.store.get(jobs(deps)[0].job_id).status != JobStatus.COMPLETING:
        assert time.monotonic() < deadline
        host.fire_timer()  # the timer only: the completion message waits in its queue
        time.sleep(0.1)
    job = jobs(deps)[0]
    deps.work.upload_blob(f"{job.job_id}/requests.jsonl", b"{not json\n", overwrite=True)
    deadline = time.monotonic() + 40
    while not deps.store.get(job.job_id).is_terminal:
        assert time.monotonic() < deadline, "the poison job was retried for ever"
        for call in (host.drain_queue, host.fire_timer):
            try:
                call()
            except Exception:  # noqa: BLE001 - the failures are the point
                pass
        time.sleep(0.2)
    final = deps.store.get(job.job_id)
    assert final.status == JobStatus.FAILED and "Gave up after 3" in final.last_error
    assert summary_of(deps, "poison")["status"] == "failed"
