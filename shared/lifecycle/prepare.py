"""The RECEIVED step: read and check the input blob, store the work files, or reject the file."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import ContentSettings

from shared.intake import duplicates, folder_settings, job_settings
from shared.intake.duplicates import Digest, Earlier
from shared.intake.job_settings import Used
from shared.intake.model import Intake, rejected
from shared.intake.options import IntakeOptions
from shared.intake.problem import Problem
from shared.intake.read import file_kind, read_input
from shared.intake.workfiles import WorkFiles
from shared.jobs.meta import JobMeta
from shared.jobs.model import Job, JobStatus
from shared.jobs.part import Part
from shared.results.publish import NEWER_OWNS, Rejection, Skip, publish_rejection, publish_skip
from shared.storage import blobs
from shared.storage.blobs import StreamOf
from shared.storage.names import JOB_META, WORK_INDEX, unsafe_name, work_prefix

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)

MAX_CODES = 5  # kinds of problem named in LastError
MAX_LINES = 5  # line numbers named per kind


def job_meta(intake: Intake, used: Used | None = None) -> JobMeta:
    """What the completion side needs to know about the input (work file job.json)."""
    return JobMeta(
        format=intake.format,
        input_columns=tuple(intake.input_columns),
        endpoint=intake.endpoint,
        json_schema=intake.json_schema,
        delimiter=intake.delimiter,
        job_settings=used.record() if used else None,
    )


def prepare(deps: Deps, job: Job) -> Job:
    """RECEIVED -> SUBMITTING (work files stored) or REJECTED (report written, or identical
    content that recently completed: the summary points at its results)."""
    why = unsafe_name(job.name)
    if why is not None:  # never read by name: an HTTP client could rewrite it to another blob
        return _reject(deps, job, rejected([_unsafe(job.name, why)]), None)
    job_settings.settle(deps, job)
    found, used = job_settings.load(deps, job)
    if isinstance(found, list):
        return _reject(deps, job, rejected(found), used)
    options = _options(deps, found)
    digest = Digest()
    with tempfile.TemporaryDirectory(prefix="batchdrop-") as tmp:
        work = WorkFiles(Path(tmp))
        intake = _read(deps, job, work, options, digest)
        if intake is None:
            return _gone(deps, job)
        if not intake.ok:
            return _reject(deps, job, intake, used)
        key = digest.key(used, options.default_deployment, file_kind(job.name))
        earlier = duplicates.earlier_run(deps, key, job)
        if earlier is not None and earlier.skip:
            return _skip(deps, job, intake, earlier, used)
        _store(deps, job, work, intake, used)
    duplicates.remember(deps, key, job)
    parts = tuple(Part(p.index, p.deployment, p.url, p.count) for p in intake.parts)
    log.info("job %s: %d request(s) in %d part(s)", job.job_id, intake.total, len(parts))
    warnings = [*intake.warnings, *([earlier.sent_again()] if earlier else [])]
    return deps.store.save(
        job.moved_to(
            JobStatus.SUBMITTING,
            parts=parts,
            total=intake.total,
            warnings=tuple(warnings),
            work_container=deps.settings.work_container,
        )
    )


def _options(deps: Deps, settings: folder_settings.FolderSettings) -> IntakeOptions:
    s = deps.settings
    return IntakeOptions(
        default_deployment=s.default_deployment,
        max_requests=s.max_requests,
        max_bytes=s.max_bytes,
        max_file_requests=s.max_file_requests,
        max_tokens=s.max_tokens,
        allowed_deployments=s.allowed_deployments,
        settings=settings,
    )


def _read(
    deps: Deps, job: Job, work: WorkFiles, options: IntakeOptions, digest: Digest
) -> Intake | None:
    """Stream the blob version through intake into the work files; None if it is gone."""
    try:
        chunks = blobs.read_chunks(deps.blobs, job.container, job.name, job.etag)
        return read_input(digest.through(chunks), work, file_kind(job.name), options)
    except (ResourceModifiedError, ResourceNotFoundError):
        return None
    finally:
        work.close()


def _store(deps: Deps, job: Job, work: WorkFiles, intake: Intake, used: Used | None) -> None:
    """Upload the parts, the request index (rebuilt from them as it goes) and job.json."""
    prefix = work_prefix(job.job_id)
    for path in work.part_files():
        blobs.upload_file(deps.work, prefix + path.name, path)
    deps.work.upload_blob(
        prefix + WORK_INDEX,
        StreamOf(work.index_lines()),
        overwrite=True,
        max_concurrency=2,
        content_settings=ContentSettings(content_type=blobs.CONTENT_TYPES[".jsonl"]),
    )
    deps.work.upload_blob(prefix + JOB_META, job_meta(intake, used).to_json(), overwrite=True)


def _unsafe(name: str, why: str) -> Problem:
    return Problem(
        None,
        "unsafe_blob_name",
        f"The blob name {name!r} cannot be read safely: {why}, which HTTP clients rewrite, so "
        "another blob could be read instead. Nothing was read or submitted. Upload the file "
        "under a name without '.' or '..' folders or backslashes.",
    )


def _gone(deps: Deps, job: Job) -> Job:
    """The blob version is no longer there: replaced by a newer upload (superseded; that
    version is its own job), or deleted (failed, with a clear record)."""
    client = deps.blobs.get_blob_client(job.container, job.name)
    if unsafe_name(job.name) is None and client.exists():
        log.info("job %s: a newer upload replaced the input before it was read", job.job_id)
        reason = "A newer upload of the same name replaced this one before it was read."
        return deps.store.save(job.moved_to(JobStatus.SUPERSEDED, last_error=reason, cleaned=True))
    log.warning("job %s: input deleted before it was read", job.job_id)
    reason = "The input blob was deleted before it could be read; nothing was submitted."
    return deps.store.save(job.moved_to(JobStatus.FAILED, last_error=reason, cleaned=True))


def rejection_reason(count: int, problems: Sequence[Problem]) -> str:
    """LastError of a rejected file: counts, codes and line numbers only. A problem's message
    may quote the file's cells (the job row, the API and the events never carry input text);
    errors.jsonl has every message."""
    lines: dict[str, list[int]] = {}
    for problem in problems:
        found = lines.setdefault(problem.code, [])
        if problem.line is not None:
            found.append(problem.line)
    said = [_code_at(code, at) for code, at in list(lines.items())[:MAX_CODES]]
    more = f" and {len(lines) - MAX_CODES} more kind(s)" if len(lines) > MAX_CODES else ""
    return (
        f"rejected: {count} problem(s), nothing was submitted: {'; '.join(said)}{more}. "
        "errors.jsonl in the output folder says what each is and how to fix it; then upload "
        "the file again."
    )


def _code_at(code: str, lines: list[int]) -> str:
    if not lines:
        return code
    shown = ", ".join(str(n) for n in lines[:MAX_LINES])
    more = f" and {len(lines) - MAX_LINES} more" if len(lines) > MAX_LINES else ""
    return f"{code} (line{'s' if len(lines) > 1 else ''} {shown}{more})"


def _reject(deps: Deps, job: Job, intake: Intake, used: Used | None) -> Job:
    log.info("job %s rejected: %d problem(s)", job.job_id, intake.problem_count)
    problems = [p.to_dict() for p in intake.problems]
    record = used.record() if used else None
    rejection = Rejection(problems, intake.problem_count, intake.total, intake.warnings, record)
    if not publish_rejection(deps, job, rejection):
        return deps.store.save(job.moved_to(JobStatus.SUPERSEDED, last_error=NEWER_OWNS))
    return deps.store.save(
        job.moved_to(
            JobStatus.REJECTED,
            total=intake.total,
            cleaned=True,
            warnings=tuple(intake.warnings),
            last_error=rejection_reason(intake.problem_count, intake.problems),
        )
    )


def _skip(deps: Deps, job: Job, intake: Intake, earlier: Earlier, used: Used | None) -> Job:
    """Identical content that recently completed: nothing is sent; the summary points at the
    earlier results, and the job ends `skipped`."""
    log.info("job %s: identical to job %s; not sent again", job.job_id, earlier.job_id)
    message = earlier.skipped()
    record = used.record() if used else None
    skip = Skip(intake.total, [*intake.warnings, message], earlier.pointer(), record)
    if not publish_skip(deps, job, skip):
        return deps.store.save(job.moved_to(JobStatus.SUPERSEDED, last_error=NEWER_OWNS))
    return deps.store.save(
        job.moved_to(
            JobStatus.SKIPPED,
            total=intake.total,
            cleaned=True,
            warnings=tuple(skip.warnings),
            last_error=message,
        )
    )
