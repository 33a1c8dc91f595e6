"""One job per blob version, whatever the events do; no trigger loops; no trusted paths.
Through the registered blob function, against Azurite and the emulator."""

from __future__ import annotations

import uuid

import pytest

from shared.config import SettingsError
from shared.deps import default_deps
from shared.intake.receive import record_job
from shared.jobs.model import JobStatus
from shared.lifecycle.advance import advance
from shared.storage.names import output_prefix
from tests.conftest import jsonl, read_jsonl, run_until
from tests.integration.test_flow import chat, jobs, output, summary_of, upload


def version_of(deps, name: str) -> tuple[str, object]:
    """The blob's ETag and write time, as record_job takes them."""
    props = deps.blobs.get_blob_client(deps.settings.input_container, name).get_blob_properties()
    return props.etag, props.last_modified


def finished(deps, count: int):
    def done() -> bool:
        found = jobs(deps)
        return len(found) == count and all(j.is_terminal and j.cleaned for j in found)

    return done


def test_a_stale_event_processes_the_current_version_once(app_env, host):
    app_env()
    deps = default_deps()
    upload(deps, "doc.jsonl", jsonl([chat("old", "v1")]))
    upload(deps, "doc.jsonl", jsonl([chat("new-1", "v2"), chat("new-2", "v2")]))
    host.deliver_blob("doc.jsonl")  # the first version's event, late
    host.deliver_blob("doc.jsonl")  # the second version's event
    run_until(host, finished(deps, 1))
    [job] = jobs(deps)
    assert job.etag == version_of(deps, "doc.jsonl")[0] and job.status == JobStatus.COMPLETED
    results = read_jsonl(output(deps, "doc/results.jsonl"))
    assert [r["custom_id"] for r in results] == ["new-1", "new-2"]


def test_a_blob_changed_after_its_job_was_recorded_leaves_a_clear_record(app_env, host):
    app_env()
    deps = default_deps()
    upload(deps, "moving.jsonl", jsonl([chat("a", "v1")]))
    stale = record_job(
        deps, deps.settings.input_container, "moving.jsonl", *version_of(deps, "moving.jsonl")
    )
    upload(deps, "moving.jsonl", jsonl([chat("b", "v2")]))
    after = advance(deps, stale)
    assert after.status == JobStatus.SUPERSEDED and "newer upload" in after.last_error
    assert summary_of(deps, "moving") is None  # the new version owns the outputs
    run_until(host, finished(deps, 2))  # the sweep finds the new version (its event is lost)
    current = [j for j in jobs(deps) if j.job_id != stale.job_id]
    assert [j.status for j in current] == [JobStatus.COMPLETED]
    assert summary_of(deps, "moving")["input"]["etag"] == current[0].etag


def test_a_deleted_blob_leaves_nothing_or_a_clear_record(app_env, host):
    app_env()
    deps = default_deps()
    upload(deps, "gone.jsonl", jsonl([chat("a", "x")]))
    host.blobs.get_blob_client(deps.settings.input_container, "gone.jsonl").delete_blob()
    assert host.deliver_blob("gone.jsonl") is None
    assert jobs(deps) == []
    upload(deps, "gone2.jsonl", jsonl([chat("a", "x")]))
    job = record_job(
        deps, deps.settings.input_container, "gone2.jsonl", *version_of(deps, "gone2.jsonl")
    )
    host.blobs.get_blob_client(deps.settings.input_container, "gone2.jsonl").delete_blob()
    after = advance(deps, job)
    assert after.status == JobStatus.FAILED and after.cleaned
    assert "deleted" in after.last_error


def test_outputs_in_the_input_container_are_refused_as_a_trigger_loop(app_env, host):
    same = f"loop-{uuid.uuid4().hex[:8]}"
    app_env(BATCH_INPUT_CONTAINER=same, BATCH_OUTPUT_CONTAINER=same)
    deps = default_deps()
    upload(deps, "loop.jsonl", jsonl([chat("a", "x")]))
    with pytest.raises(SettingsError, match="BATCH_OUTPUT_CONTAINER"):
        host.deliver_blob("loop.jsonl")
    assert jobs(deps) == []


NAMES = [
    "ünïcødé/日本語 ファイル.jsonl",
    "with spaces/and %41 percent%2F.jsonl",
    # Storage itself refuses "." and ".." segments (tests/test_paths.py maps them anyway).
    "dots/..leading/trailing../a..b.jsonl",
    "deep/" + "d" * 1000 + ".jsonl",
    "results.jsonl",  # named like an output: still just an input
    "x/summary.json.jsonl",
]


def test_odd_blob_names_map_to_safe_distinct_output_paths(app_env, host):
    app_env()
    deps = default_deps()
    for i, name in enumerate(NAMES):
        assert len(name) <= 1024
        upload(deps, name, jsonl([chat(f"id-{i}", "x")]))
    host.deliver_new_blobs()
    host.deliver_blob("stray.jsonl", container=deps.settings.output_container)  # no loop
    run_until(host, finished(deps, len(NAMES)), timeout=60)
    prefixes = {output_prefix(n) for n in NAMES}
    assert len(prefixes) == len(NAMES)
    for i, name in enumerate(NAMES):
        prefix = output_prefix(name)
        assert ".." not in prefix.split("/") and len(prefix) + len("/results.jsonl") <= 1024
        summary = summary_of(deps, prefix)
        assert summary["status"] == "completed" and summary["input"]["name"] == name
        assert read_jsonl(output(deps, f"{prefix}/results.jsonl"))[0]["custom_id"] == f"id-{i}"
    names = {b.name for b in deps.output.list_blobs()}
    assert all(n.startswith(tuple(prefixes)) for n in names)
