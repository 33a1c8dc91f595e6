"""`python -m devtools.host` as a user runs it: a separate process that reacts to uploads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import orjson
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from tests.conftest import API_KEY

ROOT = Path(__file__).resolve().parent.parent
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
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
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
            found = json.loads(urllib.request.urlopen(url).read())
            return found if [j["status"] for j in found] == ["completed"] else None

        jobs = wait_for(listed, 10, "the job listed as completed")
    finally:
        proc.terminate()
        proc.wait(10)
    assert doc["status"] == "completed" and doc["counts"]["succeeded"] == 3
    results = [
        orjson.loads(x) for x in out.download_blob("sample/results.jsonl").readall().splitlines()
    ]
    assert [r["custom_id"] for r in results] == ["task-0", "task-1", "task-2"]
    assert all(r["request"] and r["response"] for r in results)
    assert jobs[0]["input"]["name"] == "sample.jsonl" and jobs[0]["succeeded"] == 3
