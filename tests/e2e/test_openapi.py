"""The HTTP API keeps its OpenAPI document: schemathesis generates requests from
GET /api/openapi.json and checks every answer (status, content type, schema) against the local
host's HTTP server, on Azurite and the emulator, with a real job in the table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.conftest import jsonl

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture
def api(app_env, host) -> Iterator[str]:
    from devtools.host.http import serve
    from shared.deps import default_deps

    env = app_env()
    deps = default_deps()
    # A job to list and show: the schema is checked against real rows, not only empty lists.
    rows = [{"custom_id": f"q{i}", "prompt": f"question {i}"} for i in range(3)]
    inputs = deps.blobs.get_container_client(env["BATCH_INPUT_CONTAINER"])
    inputs.upload_blob("api/questions.jsonl", jsonl(rows))
    assert host.deliver_new_blobs() == 1
    server = serve(host, port=0)
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_the_api_answers_as_documented(api: str) -> None:
    # Hypothesis drives schemathesis's strategies directly: its pytest fixture loader reaches
    # into pytest internals that pytest 9 no longer has.
    schema = schemathesis.openapi.from_url(f"{api}/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    # schemathesis leaves out the document's own route; the other test covers it.
    assert {o.label for o in operations} == {
        "GET /jobs",
        "GET /jobs/{job_id}",
        "POST /jobs/{job_id}/cancel",
        "POST /jobs/{job_id}/retry",
        "GET /health",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def answers_as_documented(case: Any) -> None:
            case.call_and_validate(checks=CHECKS)

        answers_as_documented()


def test_the_document_is_served_without_a_key_and_lists_every_route(api: str, host) -> None:
    document = requests.get(f"{api}/api/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.")
    # Every HTTP function the runtime indexed from function_app.py is in the document.
    routes = {"/" + f.trigger["route"] for f in host.worker.by_trigger("httpTrigger")}
    assert set(document["paths"]) == routes
    assert document["paths"]["/openapi.json"]["get"]["security"] == []
    listed = requests.get(f"{api}/api/jobs", timeout=10).json()["jobs"]
    assert listed and listed[0]["input"]["name"] == "api/questions.jsonl"


def test_requests_refusals_and_bad_parameters_answer_as_documented(api: str) -> None:
    """The answers schemathesis cannot reach with made-up ids: a real job's detail, a cancel
    asked twice, a retry refused while it runs, and each kind of 400."""
    schema = schemathesis.openapi.from_url(f"{api}/api/openapi.json")
    [job] = requests.get(f"{api}/api/jobs", timeout=10).json()["jobs"]
    path = f"{api}/api/jobs/{job['job_id']}"
    calls = [
        ("GET", "/jobs", f"{api}/api/jobs?status=bogus", 400),
        ("GET", "/jobs", f"{api}/api/jobs?next=not-a-token", 400),
        ("GET", "/jobs", f"{api}/api/jobs?limit=1000", 400),
        ("GET", "/jobs", f"{api}/api/jobs?limit=1&status=open&prefix=api/", 200),
        ("GET", "/jobs/{job_id}", path, 200),
        ("POST", "/jobs/{job_id}/retry", f"{path}/retry", 409),
        ("POST", "/jobs/{job_id}/cancel", f"{path}/cancel", 202),
        ("POST", "/jobs/{job_id}/cancel", f"{path}/cancel", 200),
    ]
    for method, route, url, status in calls:
        answer = requests.request(method, url, timeout=10)
        assert answer.status_code == status, (url, answer.text)
        schema[route][method].validate_response(answer)
    detail = requests.get(path, timeout=10).json()
    assert detail["stop"]["reason"] == "cancel" and detail["output"]["folder"] == "api/questions"
    assert "unknown status 'bogus'" in requests.get(f"{api}/api/jobs?status=bogus").json()["error"]
