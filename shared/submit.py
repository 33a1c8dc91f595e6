"""The submission steps: read and split the input, upload the parts, create the batches."""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import orjson
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

from . import blobs
from .complete import start_completion
from .deps import Deps
from .intake import Intake, PartPlan, Request, Sink, read_native
from .jobs import Job, JobStatus, Part
from .paths import work_prefix
from .report import publish_rejection

log = logging.getLogger(__name__)

INDEX = "requests.jsonl"
FILE_POLL_SECONDS = 0.5


class WorkFiles(Sink):
    """Writes the work index (every request, input order) and one upload file per part."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.index = (folder / INDEX).open("wb")
        self.parts: dict[int, BinaryIO] = {}

    def add(self, request: Request, part: PartPlan, native: bytes) -> None:
        record = {
            "line": request.line,
            "custom_id": request.custom_id,
            "part": part.index,
            "request": request.body,
        }
        self.index.write(orjson.dumps(record) + b"\n")
        out = self.parts.get(part.index)
        if out is None:
            out = self.parts[part.index] = (self.folder / _part_name(part.index)).open("wb")
        out.write(native + b"\n")

    def close(self) -> None:
        for stream in (self.index, *self.parts.values()):
            stream.close()


def _part_name(index: int) -> str:
    return Part(index, "", "", 0).work_name


def prepare(deps: Deps, job: Job) -> Job:
    """RECEIVED -> SUBMITTING (work files stored) or REJECTED (report written)."""
    s = deps.settings
    with tempfile.TemporaryDirectory(prefix="batchdrop-") as tmp:
        work = WorkFiles(Path(tmp))
        try:
            chunks = blobs.read_chunks(deps.blobs, job.container, job.name, job.etag)
            intake = read_native(
                chunks,
                work,
                default_deployment=s.default_deployment,
                max_requests=s.max_requests,
                max_bytes=s.max_bytes,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            return _gone(deps, job)
        finally:
            work.close()
        if not intake.ok:
            return _reject(deps, job, intake)
        for path in Path(tmp).iterdir():
            blobs.upload_file(deps.work, work_prefix(job.job_id) + path.name, path)
    parts = tuple(Part(p.index, p.deployment, p.url, p.count) for p in intake.parts)
    log.info("job %s: %d requests in %d part(s)", job.job_id, intake.total, len(parts))
    return deps.store.save(
        job.moved_to(
            JobStatus.SUBMITTING, parts=parts, total=intake.total, warnings=tuple(intake.warnings)
        )
    )


def _gone(deps: Deps, job: Job) -> Job:
    log.warning("job %s: input changed or deleted before it was read", job.job_id)
    reason = (
        "The input blob changed or was deleted before it could be read; "
        "a newer version, if any, is processed as its own job."
    )
    return deps.store.save(job.moved_to(JobStatus.FAILED, last_error=reason, cleaned=True))


def _reject(deps: Deps, job: Job, intake: Intake) -> Job:
    log.info("job %s rejected: %d problem(s)", job.job_id, intake.problem_count)
    publish_rejection(deps, job, intake)
    first = intake.problems[0].message if intake.problems else ""
    return deps.store.save(
        job.moved_to(
            JobStatus.REJECTED,
            total=intake.total,
            cleaned=True,
            warnings=tuple(intake.warnings),
            last_error=f"{intake.problem_count} problem(s); first: {first}",
        )
    )


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
