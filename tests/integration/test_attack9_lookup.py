"""Issue 9 (attack): the look-up after a lost create answer. It used to read only the 2,000
most recent batches of the resource, so a busy resource (other jobs of a thousand batches,
another app) pushed the lost batch out of sight and a second one was created (I1, I10); it
now reads back to the part's upload, however many batches came since."""

from __future__ import annotations

import io
import time

import openai
import pytest

from devtools.emulator import Emulator
from shared.deps import default_deps
from tests.conftest import API_KEY, jsonl
from tests.integration.attack9_kit import emulator_with, pump
from tests.integration.test_flow import chat, jobs, upload

OTHER_BATCHES = 2001  # one more than the old look-up read


def _someone_else_creates(emu: Emulator, count: int) -> None:
    """Another tenant of the same Azure OpenAI resource creates `count` batches."""
    client = openai.OpenAI(base_url=f"{emu.url}/openai/v1/", api_key=API_KEY)
    data = jsonl([chat("o", "other app")])
    other = client.files.create(file=("other.jsonl", io.BytesIO(data)), purpose="batch")
    while client.files.retrieve(other.id).status != "processed":
        time.sleep(0.05)
    for _ in range(count):
        client.batches.create(
            input_file_id=other.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={"app": "someone-else"},
        )


def test_a_lost_create_is_found_however_busy_the_resource(app_env, host):
    with emulator_with(in_progress=60.0) as emu:
        app_env(AZURE_OPENAI_ENDPOINT=emu.url, AZURE_OPENAI_TIMEOUT_SECONDS="1")
        deps = default_deps()
        lookup_fails = {"kind": "http", "method": "GET", "path": "/batches$", "status": 500}
        # The create takes effect and its answer is lost; the look-up right after it fails
        # too (the SDK's four tries), so the part keeps its intent and the step fails.
        emu.set_faults(
            [{"kind": "commit_then_timeout", "delay": 2.5}, {**lookup_fails, "times": 4}]
        )
        upload(deps, "busy.jsonl", jsonl([chat("a", "x")]))
        with pytest.raises(openai.InternalServerError):
            host.deliver_blob("busy.jsonl")
        [job] = jobs(deps)
        assert deps.store.get(job.job_id).parts[0].creating
        _someone_else_creates(emu, OTHER_BATCHES)
        pump(host, lambda: bool(deps.store.get(job.job_id).parts[0].batch_id))
        job = deps.store.get(job.job_id)
        made = emu.batches(metadata={"batchdrop_job": job.job_id})
        assert [b["id"] for b in made] == list(job.batch_ids)  # found, not created again
