"""The walking skeleton under Azure's quirks and faults, injected through the emulator."""

from __future__ import annotations

import pytest

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import files_left, jsonl, read_jsonl, run_until
from tests.integration.test_flow import chat, drop_and_finish, jobs, output, upload


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
    assert files_left(emulator, job.job_id) == []  # I6: upload, output and error files gone


def test_cancelled_batch_keeps_partial_results_and_is_not_retried(app_env, host, faults):
    app_env()
    deps = default_deps()
    faults([{"kind": "batch_outcome", "status": "cancelled", "fraction": 0.5}])
    ids = [f"p{i}" for i in range(6)]
    summary = drop_and_finish(
        host, deps, "cancelled.jsonl", jsonl([chat(c, c) for c in ids]), "cancelled"
    )
    assert summary["status"] == "cancelled"
    results = assert_conserved(deps, "cancelled", ids)
    ok = [r for r in results if r["status"] == "succeeded"]
    assert 0 < len(ok) < len(ids)
    failed = [r for r in results if r["status"] == "failed"]
    assert {r["error"]["code"] for r in failed} == {"batch_cancelled"}
    assert {r["attempts"] for r in results} == {1}


def test_expired_batch_lines_are_resubmitted_and_merged(app_env, host, emulator, faults):
    app_env()
    deps = default_deps()
    before = {b["id"] for b in emulator.state()["batches"]}
    faults([{"kind": "batch_outcome", "status": "expired", "fraction": 0.5}])
    ids = [f"e{i}" for i in range(6)]
    summary = drop_and_finish(
        host, deps, "expired.jsonl", jsonl([chat(c, c) for c in ids]), "expired"
    )
    assert summary["status"] == "completed"
    results = assert_conserved(deps, "expired", ids)
    assert all(r["status"] == "succeeded" for r in results)
    attempts = [r["attempts"] for r in results]
    assert set(attempts) == {1, 2} and attempts.count(2) == summary["batches"][1]["requests"]
    assert len(new_batches(emulator, before)) == 2
    assert [b["status"] for b in summary["batches"]] == ["expired", "completed"]


def test_expired_with_no_attempts_left_reports_the_lost_lines(app_env, host, faults):
    app_env(BATCH_MAX_ATTEMPTS="1")
    deps = default_deps()
    faults([{"kind": "batch_outcome", "status": "expired", "fraction": 0.5}])
    ids = [f"x{i}" for i in range(6)]
    summary = drop_and_finish(
        host, deps, "lost-lines.jsonl", jsonl([chat(c, c) for c in ids]), "lost-lines"
    )
    assert summary["status"] == "expired"
    results = assert_conserved(deps, "lost-lines", ids)
    failed = [r for r in results if r["status"] == "failed"]
    assert failed and {r["error"]["code"] for r in failed} == {"batch_expired"}


def test_per_line_throttling_is_retried_until_it_succeeds(app_env, host, faults):
    app_env()
    deps = default_deps()
    faults(
        [
            {"kind": "line_failure", "custom_id": "^t[02]$", "status_code": 429, "attempts": 1},
            {"kind": "line_failure", "custom_id": "^t3$", "status_code": 500, "attempts": 5},
            {"kind": "line_failure", "custom_id": "^t4$", "status_code": 400},
        ]
    )
    ids = [f"t{i}" for i in range(5)]
    summary = drop_and_finish(
        host, deps, "throttled.jsonl", jsonl([chat(c, c) for c in ids]), "throttled"
    )
    assert summary["status"] == "completed"
    results = {r["custom_id"]: r for r in assert_conserved(deps, "throttled", ids)}
    assert [results[c]["status"] for c in ids] == [
        "succeeded",
        "succeeded",
        "succeeded",
        "failed",
        "failed",
    ]
    assert [results[c]["attempts"] for c in ids] == [2, 1, 2, 3, 1]  # 400: never retried
    assert results["t3"]["error"]["status_code"] == 500
    assert summary["counts"] == {"total": 5, "succeeded": 3, "failed": 2}


def test_quota_full_at_create_and_after_validation_waits_and_resubmits(
    app_env, host, emulator, faults
):
    app_env()
    deps = default_deps()
    before = {b["id"] for b in emulator.state()["batches"]}
    faults(
        [
            {"kind": "token_limit_exceeded", "stage": "create", "times": 1},
            {"kind": "token_limit_exceeded", "stage": "validation", "times": 1},
        ]
    )
    summary = drop_and_finish(host, deps, "quota.jsonl", jsonl([chat("q", "x")]), "quota")
    assert summary["status"] == "completed" and summary["counts"]["succeeded"] == 1
    created = new_batches(emulator, before)
    assert [b["status"] for b in created] == ["failed", "completed"]  # never two live at once


def test_quota_that_never_frees_fails_clearly_after_the_deadline(app_env, host, faults):
    app_env(BATCH_QUOTA_DEADLINE_HOURS="0.0003")  # about a second
    deps = default_deps()
    faults([{"kind": "token_limit_exceeded", "stage": "create", "times": None}])
    summary = drop_and_finish(host, deps, "noquota.jsonl", jsonl([chat("q", "x")]), "noquota")
    assert summary["status"] == "failed"
    assert summary["errors"][0]["code"] == "token_limit_exceeded"
    assert "gave up" in summary["errors"][0]["message"]
    assert_conserved(deps, "noquota", ["q"])


def test_cancel_through_the_http_api(app_env, host, emulator, faults):
    import json
    import urllib.request

    from devtools.host.http import serve

    app_env()
    deps = default_deps()
    # The batch waits for quota, so the cancel surely reaches it (a cancel that comes after
    # every batch completed leaves the job completed: tests/integration/test_cancel_outcome.py).
    faults([{"kind": "token_limit_exceeded", "stage": "create", "times": None}])
    upload(deps, "cancel-me.jsonl", jsonl([chat(f"c{i}", "x") for i in range(5)]))
    host.deliver_new_blobs()
    server = serve(host.app, port=0)
    base = f"http://127.0.0.1:{server.server_port}/api"
    try:
        [listed] = json.loads(urllib.request.urlopen(f"{base}/jobs").read())["jobs"]
        assert listed["status"] in ("submitting", "waiting"), listed["status"]
        assert listed["input"]["name"] == "cancel-me.jsonl"
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


def test_batch_that_disappears_fails_the_job_with_a_clear_reason(app_env, host, faults):
    app_env()
    deps = default_deps()
    upload(deps, "vanish.jsonl", jsonl([chat("v", "x")]))
    host.deliver_new_blobs()
    faults(
        [{"kind": "http", "method": "GET", "path": "/batches/batch_", "status": 404, "times": None}]
    )
    run_until(host, lambda: jobs(deps)[0].cleaned)
    faults([])
    [job] = jobs(deps)
    assert job.status == JobStatus.FAILED
    summary = __import__("orjson").loads(output(deps, "vanish/summary.json"))
    assert summary["status"] == "failed"
    assert summary["errors"][0]["code"] == "batch_not_found"
    [result] = assert_conserved(deps, "vanish", ["v"])
    assert result["error"]["code"] == "batch_not_found"


def test_file_limit_reached_waits_for_room_instead_of_failing(azurite, app_env, host):
    """F19: a resource that holds one batch file at a time still gets both parts through."""
    from devtools.emulator import Emulator, EmulatorConfig, Timings
    from tests.conftest import API_KEY, DEPLOYMENTS

    timings = Timings(
        file_processing=0.05, validating=0.05, in_progress=0.2, finalizing=0.05, cancelling=0.05
    )
    config = EmulatorConfig(
        api_key=API_KEY,
        deployments=DEPLOYMENTS,
        timings=timings,
        max_files_without_expiry=1,
        max_files_with_expiry=1,
    )
    with Emulator(config) as small:
        app_env(AZURE_OPENAI_ENDPOINT=small.url)
        deps = default_deps()
        rows = [chat("a", "x", "gpt-4o-mini-batch"), chat("b", "y", "gpt-4.1-batch")]
        summary = drop_and_finish(host, deps, "two-parts.jsonl", jsonl(rows), "two-parts")
        assert summary["status"] == "completed"
        assert summary["counts"]["succeeded"] == 2
        assert small.state()["files"] == []


def test_flaky_status_calls_leave_the_state_alone_until_one_succeeds(app_env, host, faults):
    """F4 on reads: the SDK's retries run out, the tick logs it, nothing moves, then it heals."""
    from shared.poll import poll_all

    app_env()
    deps = default_deps()
    upload(deps, "flaky-get.jsonl", jsonl([chat("g", "x")]))
    host.deliver_new_blobs()
    before = jobs(deps)[0]
    faults(
        [{"kind": "http", "method": "GET", "path": "/batches/batch_", "status": 503, "times": 4}]
    )
    report = poll_all(deps)
    assert report.errors == 1
    after = jobs(deps)[0]
    assert (after.status, after.parts) == (before.status, before.parts)
    faults([])
    run_until(host, lambda: jobs(deps)[0].cleaned)
    assert jobs(deps)[0].status == JobStatus.COMPLETED


def test_everything_azure_throws_at_once_still_ends_completed(app_env, host, emulator, faults):
    """Issue 4's acceptance run in small: quirky objects, flaky reads, per-line 429s and quota
    failures both at create and after validation, in one job with two deployments."""
    app_env()
    deps = default_deps()
    faults(
        [
            {"kind": "capitalize_status"},
            {"kind": "iso_timestamps"},
            {"kind": "null_request_counts", "statuses": ["validating"]},
            {"kind": "http", "method": "GET", "path": "/batches/batch_", "status": 500, "times": 3},
            {"kind": "http", "method": "GET", "path": "/files/", "status": 502, "times": 2},
            {"kind": "line_failure", "custom_id": "^z[13]$", "status_code": 429, "attempts": 1},
            {"kind": "line_failure", "custom_id": "^z5$", "status_code": 0, "attempts": 1},
            {"kind": "token_limit_exceeded", "stage": "create", "times": 1},
            {"kind": "token_limit_exceeded", "stage": "validation", "times": 1},
        ]
    )
    ids = [f"z{i}" for i in range(8)]
    rows = [
        chat(c, c, "gpt-4.1-batch" if i % 2 else "gpt-4o-mini-batch") for i, c in enumerate(ids)
    ]
    summary = drop_and_finish(host, deps, "everything.jsonl", jsonl(rows), "everything")
    assert summary["status"] == "completed"
    assert summary["counts"] == {"total": 8, "succeeded": 8, "failed": 0}
    results = {r["custom_id"]: r for r in assert_conserved(deps, "everything", ids)}
    assert {c for c, r in results.items() if r["attempts"] == 2} == {"z1", "z3", "z5"}
    assert files_left(emulator, jobs(deps)[0].job_id) == []


def test_a_refusal_at_create_fails_the_job_with_the_service_reason(app_env, host, faults):
    app_env()
    deps = default_deps()
    # A refusal of what was sent; a 401 or 403 is a wrong setting instead, and the job waits
    # (tests/integration/test_config_errors.py).
    faults([{"kind": "http", "method": "POST", "path": "/batches$", "status": 422, "times": None}])
    summary = drop_and_finish(host, deps, "denied.jsonl", jsonl([chat("d", "x")]), "denied")
    assert summary["status"] == "failed"
    assert summary["errors"][0]["status_code"] == 422
    [result] = assert_conserved(deps, "denied", ["d"])
    assert result["error"]["status_code"] == 422
    [job] = jobs(deps)
    assert job.last_error.startswith("part 0 (gpt-4o-mini-batch) failed: ")
    assert "To fix:" in job.last_error


def test_an_upload_stuck_pending_is_uploaded_once_more(app_env, host, emulator, faults):
    """F5: a bounded wait, one new upload, and the job goes on; nothing is left behind."""
    app_env(BATCH_FILE_DEADLINE_SECONDS="1", BATCH_FILE_WAIT_SECONDS="0.2")
    deps = default_deps()
    faults([{"kind": "file_status", "status": "pending", "filename": "^batchdrop-"}])
    summary = drop_and_finish(host, deps, "stuck.jsonl", jsonl([chat("p", "x")]), "stuck")
    assert summary["status"] == "completed" and summary["counts"]["succeeded"] == 1
    [job] = jobs(deps)
    assert job.parts[0].upload_tries == 2
    assert files_left(emulator, job.job_id) == []


def test_an_upload_the_service_cannot_process_twice_fails_clearly(app_env, host, emulator, faults):
    app_env(BATCH_FILE_WAIT_SECONDS="0.2")
    deps = default_deps()
    faults([{"kind": "file_status", "status": "error", "filename": "^batchdrop-", "times": None}])
    summary = drop_and_finish(host, deps, "broken.jsonl", jsonl([chat("b", "x")]), "broken")
    assert summary["status"] == "failed"
    assert summary["errors"][0]["code"] == "file_error"
    assert "after 2 uploads" in summary["errors"][0]["message"]
    [result] = assert_conserved(deps, "broken", ["b"])
    assert result["error"]["code"] == "file_error"
    assert files_left(emulator, jobs(deps)[0].job_id) == []


def test_repeated_and_unknown_ids_in_the_output_are_reported_not_merged(app_env, host, faults):
    """F11: the first answer is kept, the repeat and the stranger are listed in errors."""
    app_env()
    deps = default_deps()
    faults([{"kind": "output_anomaly", "duplicate": 1, "unknown": 1}])
    ids = ["o0", "o1", "o2"]
    summary = drop_and_finish(host, deps, "odd.jsonl", jsonl([chat(c, c) for c in ids]), "odd")
    assert summary["status"] == "completed" and summary["counts"]["succeeded"] == 3
    codes = [e["code"] for e in summary["errors"]]
    assert "unknown_custom_id" in codes and "output_anomaly" in codes
    assert any("returned twice" in e["message"] for e in summary["errors"])
    results = assert_conserved(deps, "odd", ids)
    texts = [r["response"]["choices"][0]["message"]["content"] for r in results]
    assert not any(t.startswith("(repeat)") for t in texts)
