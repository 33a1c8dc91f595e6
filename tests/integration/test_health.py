"""GET /api/health against Azurite and the emulator, through the host's HTTP server: every
check passes on a working setup, and each way a deployment goes wrong (a missing container,
queue or table, a storage key or Azure OpenAI permission that is refused, a wrong endpoint, a
bad setting) fails its own check with the setting or role to fix, and HTTP 503."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import API_KEY


@pytest.fixture
def health(host) -> Iterator[Any]:
    from devtools.host.http import serve

    server = serve(host, port=0)
    url = f"http://127.0.0.1:{server.server_port}/api/health"

    def ask() -> tuple[int, dict[str, dict[str, Any]], str]:
        answer = requests.get(url, timeout=60)
        assert answer.headers["Content-Type"] == "application/json"
        body = answer.json()
        assert set(body) == {"ok", "checks"}
        assert body["ok"] is (answer.status_code == 200)
        checks = {c["name"]: c for c in body["checks"]}
        for check in checks.values():
            assert set(check) == {"name", "ok", "detail", "fix"}
            assert check["detail"]
            assert bool(check["fix"]) is not check["ok"], check  # a fix for every failure
        return answer.status_code, checks, answer.text

    yield ask
    server.shutdown()


def failed(checks: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: c for name, c in checks.items() if not c["ok"]}


def test_a_working_setup_is_healthy(app_env, health, azurite):
    env = app_env()
    status, checks, text = health()
    assert status == 200
    assert list(checks) == [
        "settings",
        f"blob:{env['BATCH_INPUT_CONTAINER']}",
        f"blob:{env['BATCH_OUTPUT_CONTAINER']}",
        f"blob:{env['BATCH_WORK_CONTAINER']}",
        f"queue:{env['BATCH_COMPLETION_QUEUE']}",
        f"table:{env['BATCH_JOBS_TABLE']}",
        "azure_openai",
    ]
    assert "write and delete" in checks[f"blob:{env['BATCH_WORK_CONTAINER']}"]["detail"]
    assert API_KEY not in text
    # The write probe leaves nothing behind, and nothing is ever written to the input.
    from azure.storage.blob import BlobServiceClient

    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    for name in (env["BATCH_INPUT_CONTAINER"], env["BATCH_WORK_CONTAINER"]):
        assert list(blobs.get_container_client(name).list_blobs()) == []


def test_missing_container_queue_and_table_name_their_settings(app_env, health, azurite):
    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueClient

    env = app_env()
    cs = azurite.connection_string
    BlobServiceClient.from_connection_string(cs).delete_container(env["BATCH_OUTPUT_CONTAINER"])
    QueueClient.from_connection_string(cs, env["BATCH_COMPLETION_QUEUE"]).delete_queue()
    TableServiceClient.from_connection_string(cs).delete_table(env["BATCH_JOBS_TABLE"])
    status, checks, _ = health()
    assert status == 503
    bad = failed(checks)
    assert set(bad) == {
        f"blob:{env['BATCH_OUTPUT_CONTAINER']}",
        f"queue:{env['BATCH_COMPLETION_QUEUE']}",
        f"table:{env['BATCH_JOBS_TABLE']}",
    }
    for name, setting in (
        (f"blob:{env['BATCH_OUTPUT_CONTAINER']}", "BATCH_OUTPUT_CONTAINER"),
        (f"queue:{env['BATCH_COMPLETION_QUEUE']}", "BATCH_COMPLETION_QUEUE"),
        (f"table:{env['BATCH_JOBS_TABLE']}", "BATCH_JOBS_TABLE"),
    ):
        assert "does not exist" in bad[name]["detail"] and setting in bad[name]["detail"]
        assert setting in bad[name]["fix"]


def test_a_refused_storage_key_fails_every_storage_check(app_env, health, azurite, monkeypatch):
    app_env()
    key = azurite.connection_string.split("AccountKey=")[1].split(";")[0]
    wrong = azurite.connection_string.replace(key, "d3Jvbmcta2V5" * 7 + "AA==")
    monkeypatch.setenv("AzureWebJobsStorage", wrong)
    status, checks, text = health()
    assert status == 503
    storage = {n: c for n, c in checks.items() if n.split(":")[0] in ("blob", "queue", "table")}
    assert len(storage) == 5 and all(not c["ok"] for c in storage.values())
    for check in storage.values():
        assert check["detail"].startswith("access denied: 403")
        assert "AzureWebJobsStorage" in check["fix"]
    assert checks["settings"]["ok"] and checks["azure_openai"]["ok"]
    assert "d3Jvbmcta2V5" not in text


@pytest.mark.parametrize(
    ("fault", "status", "fix_names"),
    [
        ({"problem": "missing_permission"}, "403", "role"),
        ({"problem": "missing_permission", "status": 401}, "401", "AZURE_OPENAI_API_KEY"),
        ({"problem": "wrong_key"}, "401", "AZURE_OPENAI_API_KEY"),
        ({"problem": "wrong_endpoint"}, "404", "AZURE_OPENAI_ENDPOINT"),
    ],
)
def test_azure_openai_refusals_say_what_to_fix(app_env, health, emulator, fault, status, fix_names):
    app_env()
    emulator.set_faults([{"kind": "misconfigured", **fault}])
    try:
        code, checks, text = health()
    finally:
        emulator.clear_faults()
    assert code == 503
    assert list(failed(checks)) == ["azure_openai"]
    check = checks["azure_openai"]
    assert check["detail"].startswith(f"{status}:")
    assert fix_names in check["fix"]
    assert API_KEY not in text
    # Fixed, it is healthy again.
    assert health()[0] == 200


def test_an_unreachable_endpoint_is_named(app_env, health):
    app_env(AZURE_OPENAI_ENDPOINT="http://127.0.0.1:9/openai/v1/")
    code, checks, _ = health()
    assert code == 503
    assert list(failed(checks)) == ["azure_openai"]
    assert checks["azure_openai"]["detail"].startswith("cannot reach http://127.0.0.1:9:")
    assert "AZURE_OPENAI_ENDPOINT" in checks["azure_openai"]["fix"]


def test_a_missing_setting_is_the_one_failed_check(app_env, health, monkeypatch):
    app_env()
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT")
    code, checks, _ = health()
    assert code == 503
    assert list(checks) == ["settings"]
    assert "AZURE_OPENAI_ENDPOINT" in checks["settings"]["detail"]


def test_outputs_into_the_input_container_are_refused(app_env, health, monkeypatch):
    env = app_env()
    monkeypatch.setenv("BATCH_WORK_CONTAINER", env["BATCH_INPUT_CONTAINER"])
    code, checks, _ = health()
    assert code == 503
    assert not checks["settings"]["ok"]
    assert "BATCH_WORK_CONTAINER" in checks["settings"]["fix"]
