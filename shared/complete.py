"""The completion use case: collect the service's files, retry what is retryable, merge, write
the outputs, clean up."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from azure.core.exceptions import ResourceNotFoundError

from . import blobs
from .crash import crashpoint
from .csvout import csv_spec
from .deps import Deps
from .intake import PartPlan, Request, Splitter
from .jobs import Job, JobStatus, Part, outcome
from .merge import RETRY_FILE, Attempts, MergeFiles, Outcomes, read_lines
from .paths import WORK_INDEX, work_prefix
from .report import iso, publish, summary
from .store import claim, release, release_quietly

log = logging.getLogger(__name__)

CHUNK = 1 << 20
JOB_META = "job.json"  # written by prepare: format, input columns, endpoint, json_schema


class Busy(Exception):
    """Another worker holds the job; try again later."""


def start_completion(deps: Deps, job: Job) -> Job:
    """Every batch ended: mark the job and queue its merge."""
    # The lease goes in the same write: the completion worker may take the job at once.
    job = deps.store.save(release(job.moved_to(JobStatus.COMPLETING)))
    deps.queue.send_message(orjson.dumps({"job_id": job.job_id}).decode())
    log.info("job %s: all batches ended; completion queued", job.job_id)
    return job


def complete_job(deps: Deps, job_id: str) -> Job | None:
    """Entry point of the queue trigger; a repeated message finds the job done and returns."""
    job = deps.store.get(job_id)
    if job is None or job.status != JobStatus.COMPLETING:
        log.info("job %s: nothing to complete (%s)", job_id, job.status if job else "no job")
        return job
    claimed = claim(deps.store, job, deps.settings.lease_seconds)
    if claimed is None:
        # Raise so the queue delivers the message again later: if the holder finishes, that
        # delivery finds the job done; if it died, its lease will have run out.
        raise Busy(f"job {job_id} is being worked on; completion will be retried")
    try:
        finished = _complete(deps, collect(deps, claimed))
    except Exception:
        release_quietly(deps.store, job_id, claimed.lease_owner)
        raise
    return cleanup(deps, finished) if finished.is_terminal else finished


def _complete(deps: Deps, job: Job) -> Job:
    with tempfile.TemporaryDirectory(prefix="batchdrop-") as tmp:
        run = MergeRun(deps, job, Path(tmp))
        files = run.execute()
        if files.retry_count:
            return _retry_round(deps, job, Path(tmp))
        return _publish(deps, job, files, run.outcomes)


# Collecting: the service's output and error files are copied to work storage once a batch
# ends, so the merge can run again (byte-identical) and the service's files can go at once.
def _work_name(kind: str, part: Part) -> str:
    return f"{kind}-{part.index:04d}.jsonl"


def collect(deps: Deps, job: Job) -> Job:
    for part in job.parts:
        if part.done and not part.collected:
            job = _collect_part(deps, job, part)
    return job


def _collect_part(deps: Deps, job: Job, part: Part) -> Job:
    with tempfile.TemporaryDirectory(prefix="batchdrop-") as tmp:
        for kind, file_id in (("out", part.output_file_id), ("err", part.error_file_id)):
            if file_id:
                path = Path(tmp) / _work_name(kind, part)
                deps.api.download(file_id, path)
                blobs.upload_file(deps.work, work_prefix(job.job_id) + path.name, path)
    crashpoint("after_output_collected")
    job = deps.store.save(job.with_part(replace(part, collected=True)))
    _delete_service_files(deps, part)
    return job


def _delete_service_files(deps: Deps, part: Part) -> None:
    for file_id in (part.file_id, part.output_file_id, part.error_file_id):
        if file_id:
            deps.api.delete_file(file_id)


# Merging: the work files are brought to a temp folder and merged there in one pass.
@dataclass
class MergeRun:
    deps: Deps
    job: Job
    folder: Path
    outcomes: Outcomes = field(default_factory=Outcomes)

    def execute(self) -> MergeFiles:
        attempts = self._load()
        index = self._download(WORK_INDEX)
        spec = csv_spec(self._meta(), _first_request(index))
        # A cancel means stop: nothing of a cancelled job is sent again.
        cancelled = any(p.remote_status == "cancelled" for p in self.job.parts)
        max_attempts = 1 if cancelled else self.deps.settings.max_attempts
        files = MergeFiles(self.folder, max_attempts, spec)
        files.run(index, self.outcomes, {p.index: p for p in self.job.parts}, attempts)
        return files

    def _load(self) -> Attempts:
        """The service's lines of every collected part, and which parts retried what."""
        attempts = Attempts()
        for part in self.job.parts:
            if part.round > 1:
                ids = (
                    orjson.loads(r)["custom_id"] for r in read_lines(self._download(part.work_name))
                )
                attempts.add_retry_part(ids, part.index)
            for kind in ("out", "err"):
                path = self._maybe(_work_name(kind, part))
                if path is not None:
                    self.outcomes.add_file(_chunks(path), f"batch {part.batch_id}", part.index)
                    path.unlink()
        return attempts

    def _meta(self) -> dict[str, Any]:
        path = self._maybe(JOB_META)
        meta = orjson.loads(path.read_bytes()) if path else {}
        return meta if isinstance(meta, dict) else {}

    def _download(self, name: str) -> Path:
        path = self.folder / name
        blobs.download_to(self.deps.work, work_prefix(self.job.job_id) + name, path)
        return path

    def _maybe(self, name: str) -> Path | None:
        """Files that exist only sometimes: error files, job.json for older jobs."""
        try:
            return self._download(name)
        except ResourceNotFoundError:
            (self.folder / name).unlink(missing_ok=True)
            return None


def _first_request(index: Path) -> dict[str, Any] | None:
    with index.open("rb") as stream:
        line = stream.readline()
    return orjson.loads(line)["request"] if line.strip() else None


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def _retry_round(deps: Deps, job: Job, folder: Path) -> Job:
    """Send the retryable requests again in new parts; the poller takes it from there."""
    s = deps.settings
    splitter = Splitter(s.max_requests, s.max_bytes)
    # Placeholders for the existing parts, so the new ones continue the numbering.
    splitter.parts = [PartPlan(p.index, p.deployment, p.url) for p in job.parts]
    urls = {p.deployment: p.url for p in job.parts}
    files: dict[int, BinaryIO] = {}
    for raw in read_lines(folder / RETRY_FILE):
        row = orjson.loads(raw)
        body = row["request"]
        request = Request(row["line"], row["custom_id"], urls[body["model"]], body["model"], body)
        native = request.native()
        plan = splitter.place(request, len(native) + 1)
        if plan.index not in files:
            files[plan.index] = (folder / f"part-{plan.index:04d}.jsonl").open("wb")
        files[plan.index].write(native + b"\n")
    for out in files.values():
        out.close()
        blobs.upload_file(deps.work, work_prefix(job.job_id) + Path(out.name).name, Path(out.name))
    round_ = max(p.round for p in job.parts) + 1
    new = tuple(
        Part(p.index, p.deployment, p.url, p.count, round=round_)
        for p in splitter.parts[len(job.parts) :]
    )
    count = sum(p.count for p in new)
    log.info("job %s: retrying %d request(s) in %d batch(es)", job.job_id, count, len(new))
    return deps.store.save(release(job.moved_to(JobStatus.SUBMITTING, parts=job.parts + new)))


def _publish(deps: Deps, job: Job, run: MergeFiles, outcomes: Outcomes) -> Job:
    status = outcome(job.parts, run.expired_left)
    tally = run.tally
    counts = {"total": tally.total, "succeeded": tally.succeeded, "failed": tally.failed}
    doc = summary(
        job,
        status.value,
        counts,
        usage=tally.usage,
        completed_at=_ended(job),
        errors=_errors(job, outcomes),
    )
    names = ("results.jsonl", "errors.jsonl", "results.csv")
    files = {name: run.folder / name for name in names if (run.folder / name).exists()}
    publish(deps, job, files, doc)
    crashpoint("after_outputs_written")
    log.info(
        "job %s %s: %d succeeded, %d failed",
        job.job_id,
        status.value,
        tally.succeeded,
        tally.failed,
    )
    return deps.store.save(job.moved_to(status, succeeded=tally.succeeded, failed=tally.failed))


def _ended(job: Job) -> str | None:
    ends = [p.ended_at for p in job.parts if p.ended_at]
    return iso(max(ends)) if ends else None


def _errors(job: Job, outcomes: Outcomes) -> list[dict[str, Any]]:
    """Batch-level reasons and anything odd in the service's files: reported, never merged."""
    errors = [dict(e, batch=p.batch_id) for p in job.parts for e in p.errors]
    errors += [{"code": "output_anomaly", "message": m} for m in outcomes.anomalies]
    errors += [
        {
            "code": "unknown_custom_id",
            "message": f"The service returned custom_id {cid!r}, which is not in the input.",
        }
        for cid in sorted(outcomes.lines)
    ]
    return errors


def cleanup(deps: Deps, job: Job) -> Job:
    """Delete every file this job put at the service and its work files; then it is closed."""
    for part in job.parts:
        _delete_service_files(deps, part)
    removed = blobs.delete_prefix(deps.work, work_prefix(job.job_id))
    log.info("job %s cleaned up (%d work files)", job.job_id, removed)
    return deps.store.save(release(job.changed(cleaned=True)))
