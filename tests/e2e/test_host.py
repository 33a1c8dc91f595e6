"""`python -m devtools.host` as a user runs it: a separate process that loads function_app.py
through the Python Functions runtime library and reacts to uploads, ticks, messages and HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import orjson
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from tests.conftest import API_KEY, ROOT

EXAMPLE = ROOT / "examples" / "three-questions.jsonl"


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_host_process_turns_the_sample_into_results(azurite, emulator, tmp_path):
    tag = uuid.uuid4().hex[:8]
    settings = tmp_path / "local.settings.json"
    # Settings come from local.settings.json when not in the environment, as with Core Tools.
    settings.write_text(json.dumps({"Values": {"AZURE_OPENAI_DEPLOYMENT": "gpt-4o-mini-batch"}}))
    env = {
        **os.environ,
        "AzureWebJobsStorage": azurite.connection_string,
        "AZURE_OPENAI_ENDPOINT": emulator.url,
        "AZURE_OPENAI_API_KEY": API_KEY,
        "BATCH_INPUT_CONTAINER": f"hin-{tag}",
        "BATCH_OUTPUT_CONTAINER": f"hout-{tag}",
        "BATCH_WORK_CONTAINER": f"hwork-{tag}",
        "BATCH_JOBS_TABLE": f"hjobs{tag}",
        "BATCH_COMPLETION_QUEUE": f"hdone-{tag}",
        "POLL_SCHEDULE": "* * * * * *",
        "BATCH_STATUS_MIN_SECONDS": "0",
    }
    env.pop("AZURE_OPENAI_DEPLOYMENT", None)
    args = [
        sys.executable,
        "-m",
        "devtools.host",
        "--port",
        "0",
        "--settings",
        str(settings),
        "--interval",
        "0.2",
    ]
    log = (tmp_path / "host.log").open("w")
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        ready = proc.stdout.readline()
        assert "host ready" in ready, ready
        port = int(ready.split("127.0.0.1:")[1].split("/")[0])
        blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
        blobs.get_blob_client(f"hin-{tag}", "sample.jsonl").upload_blob(EXAMPLE.read_bytes())
        out = blobs.get_container_client(f"hout-{tag}")

        def summary():
            try:
                return orjson.loads(out.download_blob("sample/summary.json").readall())
            except ResourceNotFoundError:
                return None

        doc = wait_for(summary, 30, "summary.json")

        def listed():
            url = f"http://127.0.0.1:{port}/api/jobs"
            found = json.loads(urllib.request.urlopen(url).read())["jobs"]
            return found if [j["status"] for j in found] == ["completed"] else None

        jobs = wait_for(listed, 10, "the job listed as completed")
        wrong_method = urllib.request.Request(f"http://127.0.0.1:{port}/api/jobs", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(wrong_method)
        assert refused.value.code == 404  # routes are per method, under the api/ prefix
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
    logged = (tmp_path / "host.log").read_text()
    # The runtime library indexed the app and ran each kind of function: the app's own lines
    # say so (list_jobs answered above). The worker's line per invocation and the SDKs'
    # request lines are not in the log (shared/telemetry/setup.py).
    assert "Successfully indexed function app" in logged and '"function_count": 9' in logged
    assert "received (input sample.jsonl)" in logged  # submit_prompt_file
    assert "poll tick:" in logged  # poll_batches
    assert "completed: 3 succeeded" in logged  # complete_batch
    assert "Function name:" not in logged and "HTTP Request:" not in logged
    assert doc["status"] == "completed" and doc["counts"]["succeeded"] == 3
    results = [
        orjson.loads(x) for x in out.download_blob("sample/results.jsonl").readall().splitlines()
    ]
    assert [r["custom_id"] for r in results] == ["task-0", "task-1", "task-2"]
    assert all(r["request"] and r["response"] for r in results)
    assert jobs[0]["input"]["name"] == "sample.jsonl" and jobs[0]["succeeded"] == 3
