"""Telemetry in Azure mode, for real: the Azure Monitor distro exports the app's events and
metrics, keyless, to an ingestion endpoint. Here the endpoint, the live-metrics endpoint and
the managed-identity endpoint are one local stand-in, and the app runs in its own process (the
distro's providers can be set only once per process). Any other address goes to a dead local
proxy, so nothing leaves the machine."""

from __future__ import annotations

import gzip
import json
import os
import ssl
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.test_postdeploy import self_signed

ROOT = Path(__file__).resolve().parents[2]
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
IKEY = "00000000-0000-0000-0000-000000000000"
TOKEN = "local-monitor-token"

APP = textwrap.dedent(
    """
    import logging
    from dataclasses import replace
    from shared.jobs.model import Job, JobStatus, Part
    from shared.telemetry import events, metrics, setup

    print(setup.configure(), flush=True)
    job = Job.new("batch-input", "team/questions.jsonl", "etag")
    job = replace(job, status=JobStatus.SUBMITTING, total=3,
                  parts=(Part(0, "dep-x", "/chat/completions", 3, batch_id="batch_1"),))
    events.job_state_changed(job, JobStatus.RECEIVED)
    metrics.record_tokens("dep-x", prompt=100, completion=20)
    metrics.record_poll_tick(0.5, jobs=1)
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").info(
        "Request URL: 'https://example.invalid' Request headers: x-ms-secret")
    logging.getLogger("shared.poll").warning("an app log line the host forwards")
    setup.flush()
    print(job.job_id, flush=True)
    """
)


class Handler(BaseHTTPRequestHandler):
    """GET: a managed-identity token; POST .../track: envelopes; other POSTs: live metrics."""

    server: Any

    def do_GET(self) -> None:  # noqa: N802
        self.server.ingestion.requests.append(self._seen())
        body = json.dumps(
            {
                "access_token": TOKEN,
                "expires_on": str(int(time.time()) + 3600),
                "resource": parse_qs(urlsplit(self.path).query).get("resource", [""])[0],
                "token_type": "Bearer",
            }
        )
        self._answer(body, {})

    def do_POST(self) -> None:  # noqa: N802
        seen = self._seen()
        self.server.ingestion.requests.append(seen)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        if not seen["path"].endswith("/track"):  # live metrics: nobody is watching
            self._answer("", {"x-ms-qps-subscribed": "false"})
            return
        items = json.loads(raw)
        self.server.ingestion.envelopes.extend(items)
        body = {"itemsReceived": len(items), "itemsAccepted": len(items), "errors": []}
        self._answer(json.dumps(body), {})

    def _seen(self) -> dict[str, Any]:
        url = urlsplit(self.path)
        return {
            "method": self.command,
            "path": url.path,
            "query": parse_qs(url.query),
            "authorization": self.headers.get("Authorization", ""),
        }

    def _answer(self, body: str, headers: dict[str, str]) -> None:
        data = body.encode()
        self.send_response(200)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class Ingestion:
    """The ingestion, live-metrics and managed-identity endpoints, recording what they got."""

    def __init__(self, directory: Path) -> None:
        self.envelopes: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        # HTTPS, as in Azure: the exporter refuses to send a bearer token over plain HTTP.
        self.directory = directory
        self.ca_bundle, key = self_signed(directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.ca_bundle, key)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.ingestion = self  # type: ignore[attr-defined]
        self.url = f"https://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of_type(self, base_type: str) -> list[dict[str, Any]]:
        return [e["data"]["baseData"] for e in self.envelopes if e["data"]["baseType"] == base_type]


@pytest.fixture
def ingestion(tmp_path):
    stand_in = Ingestion(tmp_path)
    yield stand_in
    stand_in.server.shutdown()


def run_app(ingestion: Ingestion, **extra: str) -> list[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "APPLICATIONINSIGHTS_CONNECTION_STRING": (
            f"InstrumentationKey={IKEY};IngestionEndpoint={ingestion.url}/;"
            f"LiveEndpoint={ingestion.url}/"
        ),
        # Keyless, as the Bicep sets it: the app's user-assigned identity.
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": f"Authorization=AAD;ClientId={CLIENT_ID}",
        "IDENTITY_ENDPOINT": f"{ingestion.url}/msi/token",
        "IDENTITY_HEADER": "local-identity-header",
        # Nothing may leave the machine: no statsbeat, no cloud metadata lookups, and any other
        # address goes to a closed local port.
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
        "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "azure_app_service",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1",
        "REQUESTS_CA_BUNDLE": str(ingestion.ca_bundle),
        # The exporter keeps unsent telemetry on disk under the temp directory and sends it
        # with a later run's: each run gets its own.
        "TMPDIR": str(ingestion.directory),
        **extra,
    }
    run = subprocess.run(
        [sys.executable, "-c", APP], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout.split()


def test_the_distro_exports_events_and_metrics_keyless(ingestion):
    mode, job_id = run_app(ingestion)
    assert mode == "distro"
    [event] = [
        e
        for e in ingestion.of_type("EventData")
        if e["name"] == "JobStateChanged" and e["properties"]["job_id"] == job_id
    ]
    props = event["properties"]
    assert (props["job_id"], props["status"], props["previous_status"]) == (
        job_id,
        "submitting",
        "received",
    )
    assert (props["input_name"], props["deployments"], props["batch_ids"]) == (
        "team/questions.jsonl",
        "dep-x",
        "batch_1",
    )
    metrics = [m for d in ingestion.of_type("MetricData") for m in d["metrics"]]
    names = {m["name"] for m in metrics}
    assert {"batchdrop.tokens", "batchdrop.jobs.state_changes", "batchdrop.poll.ticks"} <= names
    tokens = {
        d["properties"]["direction"]: d["metrics"][0]["value"]
        for d in ingestion.of_type("MetricData")
        if d["metrics"][0]["name"] == "batchdrop.tokens"
    }
    assert tokens == {"input": 100, "output": 20}
    # Keyless: every upload carries the managed identity's token, asked for that identity.
    uploads = [r for r in ingestion.requests if r["path"].endswith("/track")]
    assert uploads and {r["authorization"] for r in uploads} == {f"Bearer {TOKEN}"}
    token_calls = [r for r in ingestion.requests if r["path"] == "/msi/token"]
    assert token_calls and token_calls[0]["query"]["client_id"] == [CLIENT_ID]


def test_only_the_apps_events_are_exported_and_sdk_header_dumps_never(ingestion):
    run_app(ingestion)
    messages = [m["message"] for m in ingestion.of_type("MessageData")]
    assert not [m for m in messages if "Request URL" in m or "x-ms-secret" in m]
    # The host forwards the app's own log lines; exporting them here too would duplicate them.
    assert not [m for m in messages if "an app log line" in m]


def test_with_the_worker_switch_the_app_adds_no_second_exporter(ingestion):
    # In Azure the Python worker has already run the distro before loading the app.
    mode, _ = run_app(ingestion, PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY="true")
    assert mode == "worker"
    assert ingestion.of_type("EventData") == [] and ingestion.of_type("MetricData") == []
