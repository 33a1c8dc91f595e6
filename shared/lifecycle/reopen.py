"""A person's retry of a finished job, applied by the job's worker: refused with a reason, or
the job reopened with every failed request in a new round, rebuilt from its own results.jsonl.

Every failed request goes again, whatever its error (a person asked; a 400 may fail again),
its attempts counting on from its earlier tries; the other results are kept as they were and
merged back in input order (results/merge.py `kept_result`). Refused: a job that is not
completed, failed, expired or cancelled, one with nothing failed, one whose input was replaced by
a newer upload (the newest wins), one whose outputs are gone or another job's, and one whose
job.json (kept at clean-up for jobs with failures, lifecycle/cleanup.py) is missing.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient

from shared.intake.receive import content_of
from shared.jobs.entities import RETRY_ROW, STOP_ROW
from shared.jobs.model import FINAL, Job, JobStatus, StopReason, utcnow
from shared.jobs.part import Part
from shared.jobs.store import JobStore
from shared.results import billed
from shared.results.retry import RoundWriter, read_lines
from shared.results.tally import Tally
from shared.storage import blobs
from shared.storage.names import (
    JOB_META,
    RESULTS,
    SUMMARY,
    WORK_INDEX,
    output_prefix,
    work_prefix,
)
from shared.storage.outputs import folder_state

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
KEPT = ("status", "response", "error", "finish_reason", "attempts")
PREVIOUS = "previous-results.jsonl"  # local only


@dataclass(frozen=True)
class Storage:
    """What the retry checks read: the job table and the blob containers (the CLI has these
    without the rest of Deps)."""

    store: JobStore
    blobs: BlobServiceClient
    output: ContainerClient
    work: ContainerClient

    @classmethod
    def of(cls, deps: Deps) -> Storage:
        return cls(deps.store, deps.blobs, deps.output, deps.work)


def refusal(at: Storage, job: Job) -> str | None:
    """Why the job cannot be retried, or None. Checked when it is asked and again when the
    worker applies it (a newer upload may have come in between)."""
    if job.status not in FINAL:
        return (
            f"it is {job.status.value}; only a finished job (completed with failed requests, "
            "failed, expired or cancelled) can be retried"
        )
    if job.status == JobStatus.COMPLETED and job.failed == 0:
        return "every request succeeded: there is nothing to retry"
    newer = newer_upload(at, job)
    if newer is not None:
        return newer
    state = folder_state(at.output, job.name)
    if state.owner != job.job_id or RESULTS not in state.files:
        return (
            f"its results are no longer in {at.output.container_name}/{state.folder}/ (it ended "
            "before any answer was merged, or they were removed); upload the file again"
        )
    if job.failed == 0:
        return "no request failed: there is nothing to retry"
    if not _exists(at.work, work_prefix(job.job_id) + JOB_META):
        return (
            "its work file job.json was removed at clean-up (it finished before retries were "
            "possible); upload the file again"
        )
    return None


def newer_upload(at: Storage, job: Job) -> str | None:
    """The newest upload of a name wins: a job whose input was replaced is never retried."""
    if job.stop is not None and job.stop.reason == StopReason.SUPERSEDED:
        return f"{job.stop.detail} The newest upload wins: retry that one's job instead"
    mine = (job.blob_modified or EPOCH, job.created_at)
    for other_id, modified in at.store.versions(job.container, job.name):
        if other_id == job.job_id or (modified or EPOCH) < mine[0]:
            continue
        other = at.store.get(other_id)
        if other is not None and ((modified or EPOCH), other.created_at) > mine:
            return (
                f"a newer upload of {job.name} (job {other_id}) replaced this version; the newest "
                "upload wins: retry that job instead, or upload the file again"
            )
    try:
        current = at.blobs.get_blob_client(job.container, job.name).get_blob_properties()
    except ResourceNotFoundError:
        return None  # deleted, not replaced: its results still hold every request
    touched = bool(job.content) and content_of(current) == job.content  # metadata set only
    if str(current.etag).strip('"') != job.etag.strip('"') and not touched:
        return (
            f"the input {job.name} was replaced by a newer upload; the newest upload wins: "
            "its own job runs it"
        )
    return None


def reopen(deps: Deps, job: Job) -> Job:
    """A finished job with a retry request: refuse it, or reopen it (SUBMITTING) with its
    failed requests in a new round; the next steps send them as for any job."""
    tries = job.step_failures
    if tries >= deps.settings.max_step_failures:
        return _refuse(deps, job, f"it failed {tries} times in a row ({job.last_error})")
    why = refusal(Storage.of(deps), job)
    if why is not None:
        return _refuse(deps, job, why)
    with tempfile.TemporaryDirectory(prefix="batchdrop-") as tmp:
        parts, sent = _rebuild(deps, job, Path(tmp))
    if not sent:
        return _refuse(deps, job, "its results.jsonl holds no failed request")
    when = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
    note = f"Retried on request at {when}: {sent} failed request(s) sent again, other results kept."
    log.info("job %s reopened: %d failed request(s) in %d batch(es)", job.job_id, sent, len(parts))
    reopened = job.moved_to(
        JobStatus.SUBMITTING,
        parts=job.parts + parts,
        first_part=len(job.parts),
        reopened_at=utcnow(),
        work_container=deps.settings.work_container,  # where the new index was written
        cleaned=False,
        retry=None,
        stop=None,  # an applied cancel: this run is a new one
        drop_rows=(RETRY_ROW, *((STOP_ROW,) if job.stop is not None else ())),
        last_error="",
        warnings=(*job.warnings, note),
    )
    return deps.store.save(reopened)


def _rebuild(deps: Deps, job: Job, folder: Path) -> tuple[tuple[Part, ...], int]:
    """The work index of the new run from results.jsonl, in input order: each succeeded
    result kept, each failed request placed in a part of the new round. Stored only when
    something is sent, with the usage billed so far (results/billed.py)."""
    previous = folder / PREVIOUS
    blobs.download_to(deps.output, f"{output_prefix(job.name)}/{RESULTS}", previous)
    writer = RoundWriter(deps, job, folder)
    index, sent, every, kept = folder / WORK_INDEX, 0, Tally(), Tally()
    with index.open("wb") as out:
        for raw in read_lines(previous):
            row = orjson.loads(raw)
            out.write(orjson.dumps(_record(row, writer)) + b"\n")
            sent += row["status"] != "succeeded"
            every.add(row)
            if row["status"] == "succeeded":
                kept.add(row)
    if sent:
        parts = writer.finish()
        before = billed.earlier(_summary(deps, job), every)
        billed.store_carry(deps, job, billed.Carry(before, kept.by_deployment))
        blobs.upload_file(deps.work, work_prefix(job.job_id) + WORK_INDEX, index)
        return parts, sent
    return (), 0


def _summary(deps: Deps, job: Job) -> Any:
    """The summary.json the retry starts from (None if it cannot be read)."""
    try:
        return orjson.loads(
            deps.output.download_blob(f"{output_prefix(job.name)}/{SUMMARY}").readall()
        )
    except (ResourceNotFoundError, orjson.JSONDecodeError):
        return None


def _record(row: dict[str, Any], writer: RoundWriter) -> dict[str, Any]:
    record: dict[str, Any] = {"line": row["line"], "custom_id": row["custom_id"]}
    if row["status"] == "succeeded":
        record["kept"] = {k: row.get(k) for k in KEPT}
    else:
        record["part"] = writer.add(row)
        record["attempts_before"] = int(row.get("attempts") or 1)
    record["request"] = row["request"]
    if "input" in row:
        record["input"] = row["input"]
    return record


def _refuse(deps: Deps, job: Job, why: str) -> Job:
    """Drop the request; the job stays as it was, its last error saying why."""
    log.warning("job %s: retry refused: %s", job.job_id, why)
    before = f" Before the retry: {job.last_error}" if job.last_error else ""
    refused = replace(job, retry=None, drop_rows=(RETRY_ROW,))
    text = f"Retry refused: {why}.{before}"
    return deps.store.save(refused.changed(last_error=text, step_failures=0))


def _exists(container: ContainerClient, name: str) -> bool:
    try:
        container.get_blob_client(name).get_blob_properties()
    except ResourceNotFoundError:
        return False
    return True
