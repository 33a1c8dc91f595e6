"""The postprovision and postdeploy hooks, run with sh against a fake `az` and a local HTTPS app.

The stand-in app is a real HTTPS server (a throwaway self-signed certificate that curl trusts
through CURL_CA_BUNDLE), so the hook calls exactly `https://<app>/api/health?code=<key>` as it
would in Azure. It answers the health contract: JSON `{"ok", "checks": [{"name", "ok",
"detail", "fix"}]}` with 200 when healthy and 503 when not.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import shutil
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.hookenv import FakeAz, make_fake_az, run_hook

RG, APP = "rg-test", "func-abc"
# Base64 like a real function key, with the characters a query string would alter.
FUNCTION_KEY = "k3y+with/slash=="
BLOBS_KEY = "blobs-extension-key"
KEYS_CMD = f"functionapp keys list --name {APP} --resource-group {RG}"
HEALTHY = {
    "ok": True,
    "checks": [
        {"name": "settings", "ok": True, "detail": "all 25 settings usable", "fix": ""},
        {"name": "openai", "ok": True, "detail": "listed batches (limit 1)", "fix": ""},
    ],
}
UNHEALTHY = {
    "ok": False,
    "checks": [
        {"name": "settings", "ok": True, "detail": "all 25 settings usable", "fix": ""},
        {
            "name": "openai",
            "ok": False,
            "detail": "403 PermissionDenied listing batches",
            "fix": "grant the app's identity the batchdrop Azure OpenAI role",
        },
    ],
}


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class StandIn:
    """The deployed app: what /api/health answers, in order, and the requests it got."""

    host: str
    ca_bundle: Path
    answers: list[tuple[int, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)


def handler_for(stand_in: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            url = urlsplit(self.path)
            stand_in.requests.append({"path": url.path, "query": parse_qs(url.query)})
            status, body = (200, "") if url.path == "/" else self.health()
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def health(self) -> tuple[int, Any]:
            if urlsplit(self.path).path != "/api/health":
                return 404, {"error": "not found"}
            if len(stand_in.answers) > 1:
                return stand_in.answers.pop(0)
            return stand_in.answers[0]

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    return Handler


@pytest.fixture
def app(tmp_path: Path) -> Iterator[StandIn]:
    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    stand_in = StandIn(host="", ca_bundle=cert, answers=[(200, HEALTHY)])
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(stand_in))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    stand_in.host = f"localhost:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stand_in
    server.shutdown()
    server.server_close()


@pytest.fixture
def az(tmp_path: Path) -> FakeAz:
    fake = make_fake_az(tmp_path)
    fake.answer("account show", {"id": "sub-1"})
    fake.answer(
        KEYS_CMD,
        {
            "functionKeys": {"default": FUNCTION_KEY},
            "masterKey": "master",
            "systemKeys": {"blobs_extension": BLOBS_KEY},
        },
    )
    fake.answer("deployment group create", {"properties": {"provisioningState": "Succeeded"}})
    return fake


def postdeploy(az: FakeAz, app: StandIn, **overrides: str) -> tuple[int, str]:
    env = {
        "AZURE_ENV_NAME": "test",
        "AZURE_RESOURCE_GROUP": RG,
        "AZURE_FUNCTION_APP_NAME": APP,
        "AZURE_FUNCTION_APP_HOSTNAME": app.host,
        "AZURE_EVENTGRID_SYSTEM_TOPIC_NAME": "egst-abc",
        "AZURE_EVENTGRID_DEADLETTER_CONTAINER": "eventgrid-deadletter",
        "AZURE_STORAGE_ACCOUNT_NAME": "stabc",
        "BATCH_INPUT_CONTAINER": "batch-input",
        "CURL_CA_BUNDLE": str(app.ca_bundle),
        "BATCHDROP_HEALTH_ATTEMPTS": "3",
        "BATCHDROP_HEALTH_WAIT_SECONDS": "0",
        **overrides,
    }
    run = run_hook("postdeploy.sh", az, env)
    return run.returncode, run.stdout + run.stderr


def health_calls(app: StandIn) -> list[dict[str, Any]]:
    return [r for r in app.requests if r["path"] == "/api/health"]


def test_subscription_then_health_ok(az: FakeAz, app: StandIn) -> None:
    code, out = postdeploy(az, app)
    assert code == 0, out
    [deployment] = [c for c in az.calls() if c["command"].startswith("deployment group create")]
    argv = deployment["argv"]
    for parameter in (
        "storageAccountName=stabc",
        "deadLetterContainerName=eventgrid-deadletter",
        "inputContainerName=batch-input",
        "systemTopicName=egst-abc",
    ):
        assert parameter in argv
    assert BLOBS_KEY not in " ".join(argv), "the key must not be on the command line"
    [secret] = deployment["files"].values()
    assert json.loads(secret) == {"blobsExtensionKey": {"value": BLOBS_KEY}}
    # The health call comes after the subscription and carries the default function key.
    [call] = health_calls(app)
    assert call["query"] == {"code": [FUNCTION_KEY]}
    assert "  ok    settings: all 25 settings usable" in out
    assert "Health: OK." in out
    assert FUNCTION_KEY not in out and BLOBS_KEY not in out


def test_unhealthy_app_fails_the_hook_and_prints_the_fix(az: FakeAz, app: StandIn) -> None:
    app.answers[:] = [(503, UNHEALTHY)]
    code, out = postdeploy(az, app)
    assert code == 1
    assert len(health_calls(app)) == 3, "asked again while role assignments may still apply"
    assert "  FAIL  openai: 403 PermissionDenied listing batches" in out
    assert "fix: grant the app's identity the batchdrop Azure OpenAI role" in out
    assert "Health: FAILING." in out


def test_health_that_recovers_after_role_propagation_passes(az: FakeAz, app: StandIn) -> None:
    app.answers[:] = [(503, UNHEALTHY), (200, HEALTHY)]
    code, out = postdeploy(az, app)
    assert code == 0, out
    assert len(health_calls(app)) == 2
    assert "Health: HTTP 503; asking again" in out and "Health: OK." in out


def test_a_404_from_health_fails_because_the_functions_did_not_load(
    az: FakeAz, app: StandIn
) -> None:
    # This version has /api/health: an app whose functions did not index answers 404 there.
    app.answers[:] = [(404, {"error": "not found"})]
    code, out = postdeploy(az, app)
    assert code == 1, out
    assert "Health: HTTP 404 from /api/health: the functions did not load" in out
    assert "Application Insights > Failures" in out and "azd deploy" in out
    assert len(health_calls(app)) == 3, "asked again while the host may still be loading"


def test_a_404_that_turns_into_200_passes(az: FakeAz, app: StandIn) -> None:
    app.answers[:] = [(404, {"error": "not found"}), (200, HEALTHY)]
    code, out = postdeploy(az, app)
    assert code == 0, out
    assert "Health: HTTP 404; asking again" in out and "Health: OK." in out


def test_crlf_output_of_a_windows_az_gives_the_same_keys(az: FakeAz, app: StandIn) -> None:
    # az.cmd called from WSL ends lines with CRLF: the keys must arrive without the CR.
    code, out = postdeploy(az, app, FAKE_AZ_CRLF="1")
    assert code == 0, out
    [call] = health_calls(app)
    assert call["query"] == {"code": [FUNCTION_KEY]}
    [deployment] = [c for c in az.calls() if c["command"].startswith("deployment group create")]
    [secret] = deployment["files"].values()
    assert json.loads(secret) == {"blobsExtensionKey": {"value": BLOBS_KEY}}


def test_unreachable_app_has_no_verdict(az: FakeAz, app: StandIn) -> None:
    code, out = postdeploy(az, app, AZURE_FUNCTION_APP_HOSTNAME="localhost:1")
    assert code == 1
    assert "Health: no verdict (HTTP 000)" in out


def test_without_jq_the_answer_is_printed_as_is(az: FakeAz, app: StandIn, tmp_path: Path) -> None:
    app.answers[:] = [(503, UNHEALTHY)]
    # A PATH with the tools the hook needs but no jq.
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("sh", "curl", "mktemp", "rm", "sed", "sleep", "cat", "dirname", "tr", "grep"):
        found = shutil.which(tool)
        assert found, tool
        (tools / tool).symlink_to(found)
    code, out = postdeploy(az, app, PATH=f"{az.bin_dir}:{tools}")
    assert code == 1
    assert '"fix": "grant the app\'s identity the batchdrop Azure OpenAI role"' in out
    assert "Health: FAILING." in out


def test_no_function_key_stops_with_a_message(az: FakeAz, app: StandIn) -> None:
    az.answer(KEYS_CMD, {"functionKeys": {}, "systemKeys": {"blobs_extension": BLOBS_KEY}})
    code, out = postdeploy(az, app)
    assert code == 1
    assert "no default function key" in out
    assert health_calls(app) == []


# --- postprovision: dynamic quota ---------------------------------------------------------------

DEPLOYMENT_URL = (
    "https://management.azure.com/subscriptions/sub-1/resourceGroups/rg-test/providers/"
    "Microsoft.CognitiveServices/accounts/cog-abc/deployments/gpt-5-4-mini-batch"
    "?api-version=2023-10-01-preview"
)
PROVISION_ENV = {
    "AZURE_ENV_NAME": "test",
    "AZURE_SUBSCRIPTION_ID": "sub-1",
    "AZURE_RESOURCE_GROUP": RG,
    "AZURE_OPENAI_ACCOUNT_NAME": "cog-abc",
    "AZURE_OPENAI_DEPLOYMENT": "gpt-5-4-mini-batch",
}


def rest_calls(az: FakeAz) -> list[dict[str, Any]]:
    return [c for c in az.calls() if c["command"].startswith("rest ")]


def test_postprovision_turns_dynamic_quota_on_the_documented_way(az: FakeAz) -> None:
    az.answer("rest --method patch", None)
    az.answer("rest --method get", {"properties": {"dynamicThrottlingEnabled": True}})
    run = run_hook("postprovision.sh", az, PROVISION_ENV)
    assert run.returncode == 0, run.stderr
    patch, get = rest_calls(az)
    assert patch["command"] == "rest --method patch"
    assert patch["options"]["--url"] == DEPLOYMENT_URL
    body = json.loads(patch["options"]["--body"])
    assert body == {"properties": {"dynamicThrottlingEnabled": True}}
    assert get["options"]["--url"] == DEPLOYMENT_URL
    assert "Dynamic quota is on for gpt-5-4-mini-batch." in run.stdout


def test_postprovision_reads_crlf_output_of_a_windows_az(az: FakeAz) -> None:
    az.answer("rest --method patch", None)
    az.answer("rest --method get", {"properties": {"dynamicThrottlingEnabled": True}})
    env = {k: v for k, v in PROVISION_ENV.items() if k != "AZURE_SUBSCRIPTION_ID"}
    run = run_hook("postprovision.sh", az, {**env, "FAKE_AZ_CRLF": "1"})
    assert run.returncode == 0, run.stderr
    patch, _ = rest_calls(az)
    assert patch["options"]["--url"] == DEPLOYMENT_URL  # the subscription id without its CR
    assert "Dynamic quota is on for gpt-5-4-mini-batch." in run.stdout


def test_postprovision_warns_when_azure_ignores_it(az: FakeAz) -> None:
    az.answer("rest --method patch", None)
    az.answer("rest --method get", {"properties": {"dynamicThrottlingEnabled": False}})
    run = run_hook("postprovision.sh", az, PROVISION_ENV)
    assert run.returncode == 0
    assert "reports dynamicThrottlingEnabled=false" in run.stderr
    assert "Enable dynamic quota" in run.stderr


def test_postprovision_failure_warns_and_does_not_fail_the_deployment(az: FakeAz) -> None:
    az.answer("rest --method patch", exit_code=1, stderr="ERROR: (BadRequest) not supported\n")
    run = run_hook("postprovision.sh", az, PROVISION_ENV)
    assert run.returncode == 0
    assert "the PATCH failed" in run.stderr
    assert len(rest_calls(az)) == 1


def test_postprovision_can_be_turned_off(az: FakeAz) -> None:
    run = run_hook("postprovision.sh", az, {**PROVISION_ENV, "AZURE_OPENAI_DYNAMIC_QUOTA": "false"})
    assert run.returncode == 0
    assert az.calls() == []
