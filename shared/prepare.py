"""Preparing a job: read and check the input, write the work files, or reject the file."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import BinaryIO

import orjson
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

from . import blobs
from .deps import Deps
from .intake import Intake, PartPlan, Request, Sink, read_native
from .jobs import Job, JobStatus, Part
from .paths import WORK_INDEX, work_prefix
from .report import publish_rejection

log = logging.getLogger(__name__)


class WorkFiles(Sink):
    """Writes the work index (every request, input order) and one upload file per part."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.index = (folder / WORK_INDEX).open("wb")
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
