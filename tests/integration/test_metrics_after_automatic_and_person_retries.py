"""The requests and tokens metrics when automatic retry rounds run (a
500 that succeeds on the next round) and then a person retries what ran out of attempts."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest

from shared.deps import default_deps
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


def outcomes(telemetry) -> tuple[float, float]:
    return tuple(
        telemetry.total(metrics.REQUESTS, deployment=DEPLOYMENT, outcome=o)
        for o in ("succeeded", "failed")
    )


def test_metrics_after_automatic_rounds_and_a_person_s_retry(app_env, host, emulator, api,
                                                              tmp_path):  # fmt: skip
    app_env(BATCH_MAX_ATTEMPTS="2")
    deps = default_deps()
    emulator.set_faults([
        {"kind": "line_failure", "custom_id": "^a-1$", "status_code": 500, "attempts": 1},
        {"kind": "line_failure", "custom_id": "^a-2$", "status_code": 500, "attempts": 2},
    ])  # fmt: skip
    try:
        with recorded(tmp_path) as telemetry:
            upload(deps, "am/q.jsonl", jsonl([chat(f"a-{i}", f"q{i}") for i in range(4)]))
            assert host.deliver_new_blobs() == 1
            run_until(host, lambda: summary_of(deps, "am/q") is not None and jobs(deps)[0].cleaned,
                      30)  # fmt: skip
            first = summary_of(deps, "am/q")
            mid = outcomes(telemetry)
            req = urllib.request.Request(f"{api}/jobs/{jobs(deps)[0].job_id}/retry", method="POST")
            with urllib.request.urlopen(req) as answer:
                assert answer.status == 202
            run_until(host, lambda: jobs(deps)[0].first_part > 0 and jobs(deps)[0].cleaned, 30)
            final = summary_of(deps, "am/q")
            end = outcomes(telemetry)
            tokens = telemetry.total(metrics.TOKENS, deployment=DEPLOYMENT, direction="input")
    finally:
        emulator.clear_faults()
    assert first["counts"] == {"total": 4, "succeeded": 3, "failed": 1}, first["counts"]
    assert mid == (3, 1), mid  # one outcome per request in the first run
    assert final["counts"] == {"total": 4, "succeeded": 4, "failed": 0}, final["counts"]
    assert end == (4, 1), end
    assert tokens == final["usage"]["prompt_tokens"], (tokens, final["usage"])
