"""function_app.py as the Python Functions runtime indexes and loads it: the names (the Event
Grid webhook URL depends on them), the bindings it reports, and the mistakes it rejects where
Azure would, with a message that says what to fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from devtools.host import RuntimeWorker, protocol
from tests.conftest import ROOT

IN, OUT = getattr(protocol.BindingInfo, "in"), protocol.BindingInfo.out

EXPECTED = {
    "submit_prompt_file": {"client": ("blobTrigger", IN)},
    "poll_batches": {"timer": ("timerTrigger", IN)},
    "complete_batch": {"msg": ("queueTrigger", IN)},
    "list_jobs": {"req": ("httpTrigger", IN), "$return": ("http", OUT)},
    "get_job": {"req": ("httpTrigger", IN), "$return": ("http", OUT)},
    "cancel_job": {"req": ("httpTrigger", IN), "$return": ("http", OUT)},
    "retry_job": {"req": ("httpTrigger", IN), "$return": ("http", OUT)},
    "health": {"req": ("httpTrigger", IN), "$return": ("http", OUT)},
    "openapi": {"req": ("httpTrigger", IN), "$return": ("http", OUT)},
}
# Served without a key: the API's description holds no data (shared/openapi.py says why).
ANONYMOUS = {"openapi"}


@pytest.fixture(scope="module")
def worker() -> RuntimeWorker:
    return RuntimeWorker.start(ROOT)


def raw(worker: RuntimeWorker, name: str) -> dict[str, dict]:
    return {b["name"]: b for b in worker.functions[name].bindings}


def test_every_function_is_indexed_with_its_bindings_and_directions(worker):
    reported = {
        meta.name: {k: (b.type, b.direction) for k, b in meta.bindings.items()}
        for meta in worker.metadata
    }
    assert reported == EXPECTED
    for meta in worker.metadata:
        assert meta.language == "python" and meta.script_file.endswith("function_app.py")
        assert meta.function_id == str(uuid.uuid5(uuid.NAMESPACE_OID, meta.name))
        assert meta.properties == {"worker_indexed": "True"}


def test_every_function_is_loaded(worker):
    loaded = {r.function_id: r.result.status for r in worker.load_responses}
    assert loaded == {m.function_id: protocol.StatusResult.Success for m in worker.metadata}
    # The runtime asked for the HTTP body as bytes: the host sends it so.
    assert worker.capabilities["RawHttpBodyBytes"] == "true"


def test_blob_trigger_is_an_sdk_type_binding_on_event_grid(worker):
    client = raw(worker, "submit_prompt_file")["client"]
    assert client["source"] == "EventGrid"
    assert client["connection"] == "AzureWebJobsStorage"
    assert client["path"] == "%BATCH_INPUT_CONTAINER%/{name}"
    # Deferred (SDK-type) binding: the host sends model binding data, not the blob's bytes.
    assert client["properties"] == {"SupportsDeferredBinding": True}


def test_queue_and_timer_read_their_settings(worker):
    assert raw(worker, "complete_batch")["msg"]["queueName"] == "%BATCH_COMPLETION_QUEUE%"
    assert raw(worker, "complete_batch")["msg"]["connection"] == "AzureWebJobsStorage"
    timer = raw(worker, "poll_batches")["timer"]
    assert (timer["schedule"], timer["runOnStartup"]) == ("%POLL_SCHEDULE%", False)


def test_http_routes_methods_and_auth(worker):
    routes = {
        name: (raw(worker, name)["req"]["route"], raw(worker, name)["req"]["methods"])
        for name in ("list_jobs", "get_job", "cancel_job", "retry_job", "health", "openapi")
    }
    assert routes == {
        "list_jobs": ("jobs", ["GET"]),
        "get_job": ("jobs/{job_id}", ["GET"]),
        "cancel_job": ("jobs/{job_id}/cancel", ["POST"]),
        "retry_job": ("jobs/{job_id}/retry", ["POST"]),
        "health": ("health", ["GET"]),
        "openapi": ("openapi.json", ["GET"]),
    }
    for name in routes:
        level = "ANONYMOUS" if name in ANONYMOUS else "FUNCTION"
        assert raw(worker, name)["req"]["authLevel"] == level, name


# The same checks on small throwaway apps, each loaded by the host as a separate process
# (the runtime holds one app per process).

VALID = """
import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob

app = func.FunctionApp()

@app.blob_trigger(arg_name="client", path="%INPUTS%/{name}", connection="AzureWebJobsStorage",
                  source=func.BlobSource.EVENT_GRID)
def on_blob(client: blob.BlobClient) -> None:
    pass
"""


def check(tmp_path: Path, source: str, **env: str) -> subprocess.CompletedProcess[str]:
    app = tmp_path / f"app-{uuid.uuid4().hex[:6]}"
    app.mkdir()
    (app / "function_app.py").write_text(textwrap.dedent(source))
    (app / "host.json").write_text(json.dumps({"version": "2.0"}))
    args = ["-m", "devtools.host", "--app-dir", str(app), "--check", "--settings", "/nonexistent"]
    full_env = {**os.environ, "AzureWebJobsStorage": "UseDevelopmentStorage=true", **env}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=120
    )


def test_a_valid_throwaway_app_loads_and_checks(tmp_path):
    done = check(tmp_path, VALID, INPUTS="uploads")
    assert done.returncode == 0, done.stderr
    assert "on_blob: client (blobTrigger, in)" in done.stdout


def test_a_mismatched_arg_name_fails_to_load(tmp_path):
    source = VALID.replace('arg_name="client"', 'arg_name="blob_client"')
    done = check(tmp_path, source, INPUTS="uploads")
    assert done.returncode == 1
    assert "cannot load the on_blob function" in done.stderr
    assert "{'client'}" in done.stderr  # the parameter no decorator names
    assert "make the decorator's arg_name the same as the function's parameter name" in done.stderr


def test_the_storage_sdk_blobclient_annotation_fails_to_load(tmp_path):
    source = VALID.replace("import azurefunctions.extensions.bindings.blob as blob", "").replace(
        "client: blob.BlobClient", "client: BlobClient"
    )
    source = "from azure.storage.blob import BlobClient\n" + textwrap.dedent(source)
    done = check(tmp_path, source, INPUTS="uploads")
    assert done.returncode == 1
    assert "cannot load the on_blob function" in done.stderr
    assert "annotation BlobClient" in done.stderr
    assert "azurefunctions.extensions.bindings.blob.BlobClient" in done.stderr


def test_a_wrong_annotation_on_a_timer_fails_to_load(tmp_path):
    source = """
    import azure.functions as func
    app = func.FunctionApp()

    @app.timer_trigger(arg_name="timer", schedule="0 */5 * * * *")
    def tick(timer: func.QueueMessage) -> None:
        pass
    """
    done = check(tmp_path, source)
    assert done.returncode == 1
    assert "Python type annotation QueueMessage" in done.stderr
    assert "func.TimerRequest" in done.stderr


def test_an_import_error_fails_to_load_and_names_the_module(tmp_path):
    source = "import batchdrop_missing_dependency\n" + textwrap.dedent(VALID)
    done = check(tmp_path, source, INPUTS="uploads")
    assert done.returncode == 1
    assert "No module named 'batchdrop_missing_dependency'" in done.stderr
    assert "pin it in requirements.txt" in done.stderr


def test_an_app_without_a_function_app_fails_to_load(tmp_path):
    done = check(tmp_path, "import azure.functions as func\n")
    assert done.returncode == 1
    assert "Could not find top level function app instances" in done.stderr


def test_an_unset_binding_setting_stops_the_app_like_azure(tmp_path):
    done = check(tmp_path, VALID)  # INPUTS is not set
    assert done.returncode == 1
    assert "The 'on_blob' function is in error: '%INPUTS%' does not resolve to a value" in (
        done.stderr
    )
