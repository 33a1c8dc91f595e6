"""Without an API key the app authenticates with Entra ID: a managed-identity token, sent as a
Bearer header, for the Cognitive Services scope. The identity endpoint here is a local stand-in
for App Service's (the same protocol azure-identity speaks in Azure); it signs its tokens with
the emulator's Entra secret, and the emulator checks their audience and lifetime as Azure does."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from devtools.emulator import mint_token
from shared.batches.azure_openai import OpenAIBatchService, make_client
from shared.config import Settings

IDENTITY_HEADER = "local-identity-header"


@pytest.fixture
def identity_endpoint(monkeypatch, emulator):
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            seen.append({**query, "header": self.headers.get("X-IDENTITY-HEADER", "")})
            body = json.dumps(
                {
                    "access_token": mint_token(
                        emulator.config.entra_secret, audience=query.get("resource", "")
                    ),
                    "token_type": "Bearer",
                    "expires_on": str(int(time.time()) + 3600),
                    "resource": query.get("resource", ""),
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("IDENTITY_ENDPOINT", f"http://127.0.0.1:{server.server_port}/msi/token")
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
    for name in (
        "AZURE_CLIENT_SECRET",
        "AZURE_TENANT_ID",
        "AZURE_FEDERATED_TOKEN_FILE",
        "MSI_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    yield seen
    server.shutdown()


@pytest.mark.parametrize("api_version", [None, "2024-10-21"])
def test_no_key_means_a_managed_identity_token(identity_endpoint, emulator, tmp_path, api_version):
    env = {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "AZURE_OPENAI_ENDPOINT": emulator.url,
    }
    if api_version:
        env["AZURE_OPENAI_API_VERSION"] = api_version
    settings = Settings.from_env(env)
    assert settings.openai_api_key is None
    api = OpenAIBatchService(make_client(settings), settings.openai_api_version)
    path = tmp_path / "one.jsonl"
    path.write_text(
        '{"custom_id": "a", "method": "POST", "url": "/chat/completions", '
        '"body": {"model": "gpt-4o-mini-batch", "messages": []}}\n'
    )
    uploaded = api.upload("entra.jsonl", path)
    assert api.get_file(uploaded.id) is not None
    api.delete_file(uploaded.id)
    assert identity_endpoint, "no token was asked for"
    assert identity_endpoint[0]["resource"].rstrip("/") == "https://cognitiveservices.azure.com"
    assert identity_endpoint[0]["header"] == IDENTITY_HEADER
