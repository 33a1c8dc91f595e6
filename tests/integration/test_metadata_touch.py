"""Blob Storage gives a blob a new ETag (and Last-Modified) when only its metadata is set, with
no new upload and no BlobCreated event; the sweep saw a new version and superseded the running
job, sending the same bytes again (issue 9 attack 9b, I1). A version with the running job's
Content-MD5 and size is that job's input touched: no new job, one batch."""

from __future__ import annotations

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import jsonl
from tests.integration.attack9_kit import emulator_with, pump
from tests.integration.test_flow import chat, jobs, upload


def test_setting_an_inputs_metadata_does_not_send_it_again(app_env, host):
    with emulator_with(in_progress=3.0) as emu:
        app_env(AZURE_OPENAI_ENDPOINT=emu.url)
        deps = default_deps()
        upload(deps, "touched.jsonl", jsonl([chat("a", "x"), chat("b", "y")]))
        pump(host, lambda: bool(jobs(deps)) and bool(jobs(deps)[0].batch_ids))
        blob = deps.blobs.get_blob_client(deps.settings.input_container, "touched.jsonl")
        blob.set_blob_metadata({"reviewed": "yes"})  # a tool or a person tags the input
        pump(host, lambda: all(j.is_terminal and j.cleaned for j in jobs(deps)))
        statuses = sorted(j.status.value for j in jobs(deps))
        sent = emu.batches()
    assert len(sent) == 1, [(b["id"], b["status"]) for b in sent]
    assert statuses == [JobStatus.COMPLETED.value], statuses
