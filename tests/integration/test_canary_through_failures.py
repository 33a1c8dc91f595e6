"""Canary prompt text (and the service's echo of it in a line's error
message) through a run with failures, odd output lines and a person's retry; it must never
reach the job table, the telemetry, the logs or the API."""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator

import pytest

from shared.deps import default_deps
from tests.conftest import jsonl, read_jsonl, run_until
from tests.integration.test_flow import chat, jobs, output, summary_of, upload
from tests.unit.telemetry_kit import recorded

CANARY = "CANARYd00d"


@pytest.fixture
def api(host) -> Iterator[str]:
    from devtools.host.http import serve

    server = serve(host.app, port=0)
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()


def test_canary_never_leaves_the_outputs(app_env, host, emulator, api, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    app_env()
    deps = default_deps()
    emulator.set_faults([
        {"kind": "line_failure", "custom_id": "^k-1$", "status_code": 400, "attempts": 1,
         "code": "invalid_value", "message": f"Invalid 'content': '{CANARY} prompt 1'"},
        {"kind": "line_failure", "custom_id": "^k-2$", "status_code": 500, "attempts": 5,
         "code": "server_error", "message": f"upstream said {CANARY}"},
        {"kind": "odd_shape", "shape": "not_json", "custom_id": "^k-3$", "count": 1},
    ])  # fmt: skip
    try:
        with recorded(tmp_path) as telemetry:
            upload(deps, "cn/q.jsonl", jsonl([chat(f"k-{i}", f"{CANARY} prompt {i}")
                                              for i in range(5)]))  # fmt: skip
            assert host.deliver_new_blobs() == 1
            run_until(host, lambda: summary_of(deps, "cn/q") is not None and jobs(deps)[0].cleaned,
                      40)  # fmt: skip
            job_id = jobs(deps)[0].job_id
            req = urllib.request.Request(f"{api}/jobs/{job_id}/retry", method="POST")
            with urllib.request.urlopen(req) as answer:
                assert answer.status == 202
            run_until(host, lambda: jobs(deps)[0].first_part > 0 and jobs(deps)[0].cleaned, 40)
            with urllib.request.urlopen(f"{api}/jobs/{job_id}") as answer:
                shown = answer.read().decode()
            with urllib.request.urlopen(f"{api}/jobs?limit=5") as answer:
                listed = answer.read().decode()
            everything = telemetry.path.read_text()
    finally:
        emulator.clear_faults()
    results = read_jsonl(output(deps, "cn/q/results.jsonl") or b"")
    answers = [
        r["response"]["choices"][0]["message"]["content"]
        for r in results
        if r["status"] == "succeeded"
    ]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    rows = json.dumps([dict(e) for e in deps.store.table.query_entities("PartitionKey ne ''")],
                      default=str)  # fmt: skip
    assert results and answers
    assert any(CANARY in json.dumps(r) for r in results)  # the outputs keep it
    for where, text in (("api", shown + listed), ("telemetry", everything), ("logs", logged),
                        ("table", rows)):  # fmt: skip
        assert CANARY not in text, (where, text[text.find(CANARY) - 300 :][:600])
        assert not [a for a in answers if a in text], where
