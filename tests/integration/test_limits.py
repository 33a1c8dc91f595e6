"""Files over intake's memory limits, through the registered functions: rejected with a report
naming the limit and the fix, nothing sent, never retried (I11)."""

from __future__ import annotations

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import jsonl, read_jsonl
from tests.integration.test_flow import chat, drop_and_finish, jobs, output


def test_a_file_over_the_request_limit_is_rejected_naming_the_setting(app_env, host, emulator):
    app_env(BATCH_MAX_FILE_REQUESTS="5")
    deps = default_deps()
    before = len(emulator.state()["batches"])
    data = jsonl([chat(f"r{n}", f"q{n}") for n in range(8)])
    summary = drop_and_finish(host, deps, "many.jsonl", data, "many")
    assert summary["status"] == "rejected"
    [problem] = read_jsonl(output(deps, "many/errors.jsonl"))
    assert problem["error"]["code"] == "too_many_requests"
    message = problem["error"]["message"]
    assert "more than 5 requests" in message and "BATCH_MAX_FILE_REQUESTS" in message
    assert "Split it" in message
    [job] = jobs(deps)
    assert job.status == JobStatus.REJECTED and job.parts == () and job.step_failures == 0
    assert len(emulator.state()["batches"]) == before  # nothing sent


def test_a_line_too_dense_to_parse_is_rejected_with_its_line(app_env, host, emulator):
    app_env()
    deps = default_deps()
    dense = b'{"custom_id":"x","body":{"messages":[' + b"[]," * 600_000 + b"[]]}}\n"
    data = jsonl([chat("a", "q")]) + dense + jsonl([chat("b", "q")])
    summary = drop_and_finish(host, deps, "dense.jsonl", data, "dense")
    assert summary["status"] == "rejected"
    [problem] = read_jsonl(output(deps, "dense/errors.jsonl"))
    assert (problem["line"], problem["error"]["code"]) == (2, "too_dense")
    assert "at most 1,000,000" in problem["error"]["message"]
