"""A person's actions repeated through the HTTP API: a structured answer cut off twice and
retried twice counts every billed try (summary.json usage and the tokens metric agree); a
second cancel says the first is pending, a retry of a running job and a cancel of a cancelled
one are 409s."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from shared.telemetry import metrics
from tests.conftest import jsonl, run_until
from tests.integration.test_flow import chat, jobs, summary_of, upload
from tests.unit.telemetry_kit import recorded

DEPLOYMENT = "gpt-4o-mini-batch"


@pytest.fixture
def api(host) -> Iterator[str]:
    from devtools.host.http import serve

    server = serve(host.app, port=0)
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()


def post(api: str, job_id: str, what: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{api}/jobs/{job_id}/{what}", method="POST")
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"{}")


def test_two_retries_in_a_row_count_every_billed_try(app_env, host, emulator, api, tmp_path):
    """A structured answer cut off twice (billed both times), retried twice by a person:
    summary.json usage counts three tries of it, and the tokens metric equals usage."""
    app_env()
    deps = default_deps()
    schema = {"type": "object", "properties": {"city": {"type": "string"}},
              "required": ["city"], "additionalProperties": False}  # fmt: skip
    settings = {"json_schema": schema, "body": {"max_tokens": 50}}
    deps.blobs.get_container_client(deps.settings.input_container).upload_blob(
        "r2/_job.json", json.dumps(settings).encode()
    )
    emulator.set_faults([{"kind": "truncated_answer", "custom_id": "^t-2$", "fraction": 0.5,
                          "times": 2}])  # fmt: skip
    try:
        with recorded(tmp_path) as telemetry:
            rows = [{"custom_id": f"t-{i}", "prompt": f"q{i}"} for i in range(4)]
            upload(deps, "r2/q.jsonl", jsonl(rows))
            host.deliver_new_blobs()
            run_until(host, lambda: summary_of(deps, "r2/q") is not None and jobs(deps)[0].cleaned)
            first = summary_of(deps, "r2/q")
            usages = [first["usage"]["prompt_tokens"]]
            for round_ in (1, 2):
                assert post(api, jobs(deps)[0].job_id, "retry")[0] == 202
                run_until(host, lambda r=round_: _round_done(deps, r), 30)
                usages.append(summary_of(deps, "r2/q")["usage"]["prompt_tokens"])
            final = summary_of(deps, "r2/q")
            tokens = telemetry.total(metrics.TOKENS, deployment=DEPLOYMENT, direction="input")
    finally:
        emulator.clear_faults()
    assert first["counts"]["failed"] == 1 and final["counts"]["succeeded"] == 4, final["counts"]
    once = usages[1] - usages[0]  # the retried request's prompt tokens, one try
    assert once > 0 and usages[2] - usages[1] == once, usages
    assert tokens == final["usage"]["prompt_tokens"], (tokens, usages)


def _round_done(deps: Any, round_: int) -> bool:
    [job] = jobs(deps)
    return (
        job.is_terminal
        and job.retry is None
        and job.cleaned
        and (max(p.round for p in job.parts) >= round_ + 1)
    )


def test_cancel_twice_and_retry_while_a_cancel_is_pending(app_env, host, api, emulator):
    """The second cancel says the first is pending (200, requested false); a retry of a job
    still running is a 409; once cancelled, another cancel is a 409."""
    app_env()
    deps = default_deps()
    emulator.set_faults([{"kind": "token_limit_exceeded", "stage": "create"}])
    try:
        upload(deps, "cx/q.jsonl", jsonl([chat(f"c{i}", "x") for i in range(2)]))
        assert host.deliver_new_blobs() == 1
        [job] = jobs(deps)
        first, _ = post(api, job.job_id, "cancel")
        again, said = post(api, job.job_id, "cancel")
        retried, _ = post(api, job.job_id, "retry")
        run_until(host, lambda: jobs(deps)[0].is_terminal and jobs(deps)[0].cleaned, 30)
        late, _ = post(api, job.job_id, "cancel")
    finally:
        emulator.clear_faults()
    assert (first, again, retried, late) == (202, 200, 409, 409), said
    assert said["requested"] is False
    assert jobs(deps)[0].status == JobStatus.CANCELLED
