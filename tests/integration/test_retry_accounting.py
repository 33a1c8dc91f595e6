"""A person's retry and what a job used: the metrics add only the retry's own requests, tokens
and cost (never the kept results again, never a second upload-to-results time), and
summary.json's `usage` and `cost` still count the billed first try of what was retried."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from shared.deps import default_deps
from shared.telemetry import events, metrics
from tests.conftest import jsonl, run_until
from tests.integration.test_flow import chat, jobs, summary_of, upload
from tests.unit.telemetry_kit import recorded

DEPLOYMENT = "gpt-4o-mini-batch"


@pytest.fixture
def faults(emulator) -> Iterator[Any]:
    yield emulator.set_faults
    emulator.clear_faults()


@pytest.fixture
def api(host) -> Iterator[str]:
    from devtools.host.http import serve

    server = serve(host.app, port=0)
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()


def retry(api: str, job_id: str) -> int:
    request = urllib.request.Request(f"{api}/jobs/{job_id}/retry", method="POST")
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def finish(host, deps, prefix: str) -> None:
    run_until(host, lambda: summary_of(deps, prefix) is not None and jobs(deps)[0].cleaned)


def finish_retry(host, deps) -> None:
    run_until(host, lambda: jobs(deps)[0].first_part > 0 and jobs(deps)[0].cleaned, 30)


def test_a_retry_adds_only_its_own_requests_tokens_and_cost_to_the_metrics(
    app_env, host, faults, api, tmp_path
):
    app_env()
    deps = default_deps()
    faults([{"kind": "line_failure", "custom_id": "^r-1$", "status_code": 400, "attempts": 1}])
    with recorded(tmp_path) as telemetry:
        upload(deps, "dbl/q.jsonl", jsonl([chat(f"r-{i}", f"q{i}") for i in range(4)]))
        assert host.deliver_new_blobs() == 1
        finish(host, deps, "dbl/q")
        assert summary_of(deps, "dbl/q")["counts"] == {"total": 4, "succeeded": 3, "failed": 1}
        assert retry(api, jobs(deps)[0].job_id) == 202
        finish_retry(host, deps)
        final = summary_of(deps, "dbl/q")
        succeeded = telemetry.total(metrics.REQUESTS, deployment=DEPLOYMENT, outcome="succeeded")
        failed = telemetry.total(metrics.REQUESTS, deployment=DEPLOYMENT, outcome="failed")
        tokens = telemetry.total(metrics.TOKENS, deployment=DEPLOYMENT, direction="input")
        cost = telemetry.total(metrics.COST, deployment=DEPLOYMENT, price="batch")
        timed = telemetry.metrics(events.UPLOAD_TO_RESULTS)
        ended = [
            e["attributes"]
            for e in telemetry.events(events.STATE_CHANGED)
            if e["attributes"]["status"] == "completed"
        ]
    assert final["counts"] == {"total": 4, "succeeded": 4, "failed": 0}
    # 3 succeeded first, 1 on the retry: not 3 + 4; 1 failed once, never undone.
    assert (succeeded, failed) == (4, 1)
    assert tokens == final["usage"]["prompt_tokens"]
    assert round(cost, 9) == round(final["cost"]["cost"], 9)
    # One upload, one upload-to-results time; the retry's own time is said apart.
    assert sum(r["count"] for r in timed) == 1, timed
    assert ["upload_to_results_seconds" in e for e in ended] == [True, False]
    assert "retry_to_results_seconds" in ended[1]


def test_the_cost_after_a_retry_still_counts_the_billed_first_try(app_env, host, faults, api):
    """A structured answer cut off by max_tokens is billed (its usage is in results.jsonl) and
    fails output_truncated; a person retries it and it succeeds: 5 answers were billed."""
    app_env()
    deps = default_deps()
    schema = {"type": "object", "properties": {"city": {"type": "string"}},
              "required": ["city"], "additionalProperties": False}  # fmt: skip
    settings = {"json_schema": schema, "body": {"max_tokens": 50}}
    inputs = deps.blobs.get_container_client(deps.settings.input_container)
    inputs.upload_blob("cost/_job.json", json.dumps(settings).encode())
    faults([{"kind": "truncated_answer", "custom_id": "^t-2$", "fraction": 0.5, "times": 1}])
    rows = [{"custom_id": f"t-{i}", "prompt": f"q{i}"} for i in range(4)]
    upload(deps, "cost/q.jsonl", jsonl(rows))
    host.deliver_new_blobs()  # the _job.json (never an input) and the file
    finish(host, deps, "cost/q")
    before = summary_of(deps, "cost/q")
    assert before["counts"]["failed"] == 1, before["counts"]
    assert retry(api, jobs(deps)[0].job_id) == 202
    finish_retry(host, deps)
    after = summary_of(deps, "cost/q")
    assert after["counts"]["succeeded"] == 4
    first_try = before["usage"]["prompt_tokens"]
    # The retried request's prompt again: more than before, less than twice before.
    assert first_try < after["usage"]["prompt_tokens"] < 2 * first_try, (before, after)
    assert after["cost"]["cost"] > before["cost"]["cost"], (before["cost"], after["cost"])
    row = after["cost"]["by_deployment"][DEPLOYMENT]
    assert row["input_tokens"] == after["usage"]["prompt_tokens"]
