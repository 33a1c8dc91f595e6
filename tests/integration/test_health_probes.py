"""GET /api/health proves the app may write what it writes, against Azurite and the emulator:
an identity that can list batches but not upload or delete a batch file, a queue or table it can
only read, an output container it cannot write each fail their check with the step and the fix;
a storage token that cannot be had names the credential settings and roles; and a passing check
leaves nothing behind (no blob, message, row or batch file)."""

from __future__ import annotations

import http.client
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from shared.health import check_health
from shared.probes import PROBE_PARTITION


@pytest.fixture
def faults(emulator) -> Iterator[Any]:
    yield emulator.set_faults
    emulator.clear_faults()


def checks_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in body["checks"]}


def failed(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: c for name, c in checks_of(body).items() if not c["ok"]}


def probe_files(emulator, state: str) -> list[dict[str, Any]]:
    return [f for f in emulator.state()[state] if "health-probe" in f["filename"]]


def test_health_fails_when_the_identity_cannot_upload_batch_files(app_env, emulator, faults):
    # A role without files/write: list batches works, every job's upload would be a 403.
    app_env()
    faults([{"kind": "http", "method": "POST", "path": "/files$", "status": 403, "times": None}])
    status, body = check_health()
    assert status == 503
    assert list(failed(body)) == ["azure_openai"]
    check = checks_of(body)["azure_openai"]
    assert check["detail"].startswith("403:") and "files/write" in check["detail"]
    assert "role" in check["fix"] and "AZURE_CLIENT_ID" in check["fix"]


def test_health_fails_when_the_identity_cannot_delete_batch_files(app_env, emulator, faults):
    app_env()
    faults([{"kind": "http", "method": "DELETE", "path": "/files/", "status": 403, "times": None}])
    status, body = check_health()
    assert status == 503
    check = checks_of(body)["azure_openai"]
    assert "files/delete" in check["detail"] and "expires in 14 days" in check["detail"]
    [left] = [f for f in probe_files(emulator, "files") if f["id"] in check["detail"]]
    assert left["expires_at"] is not None  # it goes away by itself
    assert "role" in check["fix"]


def test_a_passing_health_check_leaves_no_probe_behind(app_env, azurite, emulator):
    from azure.data.tables import TableClient
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueClient

    env = app_env()
    live = {f["id"] for f in probe_files(emulator, "files")}  # another test's refused delete
    before = {f["id"] for f in probe_files(emulator, "deleted_files")}
    status, body = check_health()
    assert status == 200, failed(body)
    checks = checks_of(body)
    assert "upload and delete a batch file" in checks["azure_openai"]["detail"]
    assert "send and delete" in checks[f"queue:{env['BATCH_COMPLETION_QUEUE']}"]["detail"]
    assert "write and delete" in checks[f"table:{env['BATCH_JOBS_TABLE']}"]["detail"]
    assert "write and delete" in checks[f"blob:{env['BATCH_OUTPUT_CONTAINER']}"]["detail"]
    # The batch file was uploaded and deleted, with the expiry a lost delete would need.
    new = [f for f in probe_files(emulator, "deleted_files") if f["id"] not in before]
    assert len(new) == 1 and new[0]["expires_at"] is not None
    assert {f["id"] for f in probe_files(emulator, "files")} == live
    cs = azurite.connection_string
    blobs = BlobServiceClient.from_connection_string(cs)
    for name in ("BATCH_INPUT_CONTAINER", "BATCH_OUTPUT_CONTAINER", "BATCH_WORK_CONTAINER"):
        assert list(blobs.get_container_client(env[name]).list_blobs()) == [], name
    queue = QueueClient.from_connection_string(cs, env["BATCH_COMPLETION_QUEUE"])
    assert queue.get_queue_properties().approximate_message_count == 0
    table = TableClient.from_connection_string(cs, env["BATCH_JOBS_TABLE"])
    assert (
        list(table.query_entities("PartitionKey eq @pk", parameters={"pk": PROBE_PARTITION})) == []
    )


class ReadOnly(BaseHTTPRequestHandler):
    """Storage as a Reader role sees it: reads pass through, every write is 403."""

    target = 0

    def relay(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.command not in ("GET", "HEAD"):
            self.send_response(403)
            self.send_header("x-ms-error-code", "AuthorizationPermissionMismatch")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        conn = http.client.HTTPConnection("127.0.0.1", self.target)
        conn.request(self.command, self.path, body, dict(self.headers))
        reply = conn.getresponse()
        data = reply.read()
        self.send_response(reply.status)
        for key, value in reply.getheaders():
            if key.lower() not in ("transfer-encoding", "connection"):
                self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = do_MERGE = relay

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def read_only(app_env, monkeypatch) -> Iterator[Any]:
    """Make the named storage services read-only for the app (the rest stays writable)."""
    servers: list[ThreadingHTTPServer] = []

    def limit(*services: str) -> dict[str, str]:
        env = app_env()
        conn = dict(p.split("=", 1) for p in env["AzureWebJobsStorage"].split(";") if p)
        for service in services:
            url = urlsplit(conn[service])
            handler = type("Handler", (ReadOnly,), {"target": url.port})
            server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
            conn[service] = f"http://127.0.0.1:{server.server_port}{url.path}"
        monkeypatch.setenv("AzureWebJobsStorage", ";".join(f"{k}={v}" for k, v in conn.items()))
        return env

    yield limit
    for server in servers:
        server.shutdown()


def test_health_fails_when_the_queue_and_table_are_read_only(read_only):
    env = read_only("QueueEndpoint", "TableEndpoint")
    status, body = check_health()
    assert status == 503
    bad = failed(body)
    queue, table = f"queue:{env['BATCH_COMPLETION_QUEUE']}", f"table:{env['BATCH_JOBS_TABLE']}"
    assert set(bad) == {queue, table}
    assert bad[queue]["detail"].startswith("access denied: 403")
    assert "while sending a message" in bad[queue]["detail"]
    assert "while writing a row" in bad[table]["detail"]
    assert all("AzureWebJobsStorage" in c["fix"] for c in bad.values())


def test_health_fails_when_the_output_container_cannot_be_written(read_only):
    env = read_only("BlobEndpoint")
    status, body = check_health()
    assert status == 503
    bad = failed(body)
    # The input is only ever listed (a probe there would start a job); outputs and work
    # files are written, so both containers fail.
    output, work = (f"blob:{env[n]}" for n in ("BATCH_OUTPUT_CONTAINER", "BATCH_WORK_CONTAINER"))
    assert set(bad) == {output, work}
    assert "while writing a probe blob" in bad[output]["detail"]


def test_a_storage_token_failure_names_the_credential_and_the_setting(
    app_env, monkeypatch, tmp_path
):
    app_env()
    monkeypatch.delenv("AzureWebJobsStorage")
    client_id = str(uuid.uuid4())
    monkeypatch.setenv("AzureWebJobsStorage__clientId", client_id)
    for service in ("blob", "queue", "table"):  # identity-based, as in Azure
        monkeypatch.setenv(
            f"AzureWebJobsStorage__{service}ServiceUri", f"https://acct.{service}.example.invalid"
        )
    # No credential may be found on this machine either: no az, azd or token cache.
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET",
                 "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "MSI_ENDPOINT"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    started = time.monotonic()
    status, body = check_health()
    assert time.monotonic() - started < 20  # one token attempt, not a retry per check
    assert status == 503
    storage = {
        n: c for n, c in checks_of(body).items() if n.split(":")[0] in ("blob", "queue", "table")
    }
    assert len(storage) == 5
    for check in storage.values():
        assert not check["ok"] and check["detail"] != "None"
        assert (
            check["detail"].startswith("no Entra ID token for storage")
            and client_id in check["detail"]
        )
        assert "AzureWebJobsStorage__clientId" in check["fix"]
        assert "Queue and Table Data Contributor" in check["fix"] and "az login" in check["fix"]
    assert checks_of(body)["azure_openai"]["ok"]  # the key still works: only storage is named
