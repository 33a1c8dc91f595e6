"""The submission step: upload each part and create its batch, resumably."""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from . import blobs
from .complete import start_completion
from .deps import Deps
from .jobs import Job, JobStatus, Part
from .paths import work_prefix

log = logging.getLogger(__name__)

FILE_POLL_SECONDS = 0.5


def submit_parts(deps: Deps, job: Job) -> Job:
    """SUBMITTING -> IN_PROGRESS once every part has a batch; resumable after any crash."""
    for part in job.parts:
        if part.batch_id is None and not part.done:
            job = _submit_part(deps, job, part)
            if job.parts[part.index].batch_id is None and not job.parts[part.index].done:
                return job  # file still processing: the poller carries on next tick
    if all(p.done for p in job.parts):
        return start_completion(deps, job)
    return deps.store.save(job.moved_to(JobStatus.IN_PROGRESS))


def _submit_part(deps: Deps, job: Job, part: Part) -> Job:
    if part.file_id is None:
        part = _upload(deps, job, part)
        job = deps.store.save(job.with_part(part))
    status = _wait_for_file(deps, part.file_id or "")
    if status == "processed":
        batch = deps.api.create_batch(part.file_id or "", part.url, _metadata(job, part))
        log.info("job %s part %d: batch %s created", job.job_id, part.index, batch.id)
        part = replace(part, batch_id=batch.id, remote_status=batch.status)
        return deps.store.save(job.with_part(part))
    if status in ("error", "deleted", None):
        log.warning("job %s part %d: uploaded file unusable (%s)", job.job_id, part.index, status)
        error = {"code": "file_error", "message": f"The uploaded batch file is {status}."}
        part = replace(part, remote_status="failed", errors=(error,))
        return deps.store.save(job.with_part(part))
    return job


def _upload(deps: Deps, job: Job, part: Part) -> Part:
    filename = f"batchdrop-{job.job_id}-{part.index:04d}.jsonl"
    with tempfile.TemporaryDirectory(prefix="batchdrop-") as tmp:
        path = Path(tmp) / part.work_name
        blobs.download_to(deps.work, work_prefix(job.job_id) + part.work_name, path)
        uploaded = deps.api.upload(filename, path)
    log.info("job %s part %d: uploaded as %s", job.job_id, part.index, uploaded.id)
    return replace(part, file_id=uploaded.id)


def _wait_for_file(deps: Deps, file_id: str) -> str | None:
    """Wait briefly for the service to process the upload; the poller waits longer."""
    deadline = time.monotonic() + deps.settings.file_wait_seconds
    while True:
        remote = deps.api.get_file(file_id)
        status = remote.status if remote else None
        if status != "pending" and status != "uploaded" or time.monotonic() >= deadline:
            return status
        time.sleep(FILE_POLL_SECONDS)


def _metadata(job: Job, part: Part) -> dict[str, str]:
    """Tags that let a retry find the batch an earlier, interrupted attempt created."""
    return {"batchdrop_job": job.job_id, "batchdrop_part": str(part.index)}
