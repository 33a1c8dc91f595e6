"""The walking skeleton under Azure's quirks and faults, injected through the emulator."""

from __future__ import annotations

import pytest

from shared.deps import default_deps
from shared.jobs import JobStatus
from tests.conftest import jsonl, read_jsonl, run_until
from tests.test_flow import chat, drop_and_finish, jobs, output, upload


@pytest.fixture
def faults(emulator):
    yield emulator.set_faults
    emulator.clear_faults()


def new_batches(emulator, before: set[str]) -> list[dict]:
    return [b for b in emulator.state()["batches"] if b["id"] not in before]


def assert_conserved(deps, prefix: str, custom_ids: list[str]) -> list[dict]:
    """I2: every input custom_id exactly once, in input order, succeeded or failed."""
    results = read_jsonl(output(deps, f"{prefix}/results.jsonl"))
    assert [r["custom_id"] for r in results] == custom_ids
    failed = [r for r in results if r["status"] == "failed"]
    errors = read_jsonl(output(deps, f"{prefix}/errors.jsonl"))
    assert [e["custom_id"] for e in errors] == [r["custom_id"] for r in failed]
    assert all(r["error"] and r["error"]["code"] for r in failed)
    return results


def test_every_line_failing_still_accounts_for_every_request(app_env, host, faults):
    app_env()
    deps = default_deps()
    faults([{"kind": "line_failure", "custom_id": "^allfail-", "status_code": 400}])
    ids = [f"allfail-{i}" for i in range(4)]
    summary = drop_and_finish(
        host, deps, "allfail.jsonl", jsonl([chat(c, c) for c in ids]), "allfail"
    )
    assert summary["status"] == "completed"
    assert summary["counts"] == {"total": 4, "succeeded": 0, "failed": 4}
    results = assert_conserved(deps, "allfail", ids)
    assert {r["error"]["status_code"] for r in results} == {400}
    assert jobs(deps)[0].parts[0].output_file_id is None  # Azure's quirk, F8


def test_quirky_statuses_timestamps_and_counts_are_understood(app_env, host, faults):
    app_env()
    deps = default_deps()
    faults(
        [{"kind": "capitalize_status"}, {"kind": "iso_timestamps"}, {"kind": "null_request_counts"}]
    )
    summary = drop_and_finish(host, deps, "quirky.jsonl", jsonl([chat("a", "x")]), "quirky")
    assert summary["status"] == "completed" and summary["counts"]["succeeded"] == 1
    assert summary["completed_at"] and summary["completed_at"].startswith("20")


def test_create_committed_but_answer_lost_makes_one_batch(app_env, host, emulator, faults):
    app_env(AZURE_OPENAI_TIMEOUT_SECONDS="1")
    deps = default_deps()
    before = {b["id"] for b in emulator.state()["batches"]}
    faults([{"kind": "commit_then_timeout", "delay": 2.5}])
    summary = drop_and_finish(host, deps, "lost.jsonl", jsonl([chat("a", "x")]), "lost")
    assert summary["status"] == "completed"
    assert len(new_batches(emulator, before)) == 1


def test_server_errors_on_upload_are_retried_and_nothing_is_lost(app_env, host, emulator, faults):
    app_env()
    deps = default_deps()
    before_files = {f["id"] for f in emulator.state()["files"]}
    faults(
        [
            {"kind": "http", "method": "POST", "path": "files", "status": 500, "times": 1},
            {"kind": "http", "method": "POST", "path": "batches$", "status": 502, "times": 1},
        ]
    )
    summary = drop_and_finish(host, deps, "flaky.jsonl", jsonl([chat("a", "x")]), "flaky")
    assert summary["status"] == "completed" and summary["counts"]["succeeded"] == 1
    job = jobs(deps)[0]
    assert job.status == JobStatus.COMPLETED
    left = {f["id"] for f in emulator.state()["files"]} - before_files
    assert left == set()  # I6: the upload, output and error files are all gone


@pytest.mark.parametrize("fate", ["expired", "cancelled"])
def test_expired_or_cancelled_batches_keep_partial_results(app_env, host, faults, fate):
    app_env()
    deps = default_deps()
    faults([{"kind": "batch_outcome", "status": fate, "fraction": 0.5}])
    ids = [f"p{i}" for i in range(6)]
    summary = drop_and_finish(host, deps, f"{fate}.jsonl", jsonl([chat(c, c) for c in ids]), fate)
    assert summary["status"] == fate
    results = assert_conserved(deps, fate, ids)
    ok = [r for r in results if r["status"] == "succeeded"]
    assert 0 < len(ok) < len(ids)
    assert {r["error"]["code"] for r in results if r["status"] == "failed"} == {f"batch_{fate}"}


def test_cancel_through_the_http_api(app_env, host, emulator):
    import json
    import urllib.request

    from devtools.host.http import serve

    app_env()
    deps = default_deps()
    upload(deps, "cancel-me.jsonl", jsonl([chat(f"c{i}", "x") for i in range(5)]))
    host.deliver_new_blobs()
    server = serve(host.app, port=0)
    base = f"http://127.0.0.1:{server.server_port}/api"
    try:
        [listed] = json.loads(urllib.request.urlopen(f"{base}/jobs").read())
        assert listed["status"] == "in_progress" and listed["input"]["name"] == "cancel-me.jsonl"
        request = urllib.request.Request(f"{base}/jobs/{listed['job_id']}/cancel", method="POST")
        assert urllib.request.urlopen(request).status == 202
        run_until(host, lambda: jobs(deps)[0].cleaned)
        shown = json.loads(urllib.request.urlopen(f"{base}/jobs/{listed['job_id']}").read())
        assert shown["status"] == "cancelled"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/jobs/nope")
        assert missing.value.code == 404
    finally:
        server.shutdown()
    assert_conserved(deps, "cancel-me", [f"c{i}" for i in range(5)])
