"""The completion use case: collect the service's files, retry what is retryable, merge, write
the outputs, clean up."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from . import blobs
from .csvout import CsvWriter, load_csv_spec
from .deps import Deps
from .intake import PartPlan, Request, Splitter, iter_lines
from .jobs import Job, JobStatus, Part, outcome
from .merge import Attempts, Outcomes, Tally, merge, retryable
from .paths import WORK_INDEX, work_prefix
from .report import iso, publish, summary
from .store import claim, release, release_quietly

log = logging.getLogger(__name__)

COMPLETE_LEASE_SECONDS = 1800
CHUNK = 1 << 20


def start_completion(deps: Deps, job: Job) -> Job:
    """Every batch ended: mark the job and queue its merge."""
    job = deps.store.save(job.moved_to(JobStatus.COMPLETING))
    deps.queue.send_message(orjson.dumps({"job_id": job.job_id}).decode())
    log.info("job %s: all batches ended; completion queued", job.job_id)
    return job


def complete_job(deps: Deps, job_id: str) -> Job | None:
    """Entry point of the queue trigger; a repeated message finds the job done and returns."""
    job = deps.store.get(job_id)
    if job is None or job.status != JobStatus.COMPLETING:
        log.info("job %s: nothing to complete (%s)", job_id, job.status if job else "no job")
        return job
    claimed = claim(deps.store, job, COMPLETE_LEASE_SECONDS)
    if claimed is None:
        log.info("job %s: completion already running elsewhere", job_id)
        return job
    try:
        finished = _complete(deps, collect(deps, claimed))
    except Exception:
        release_quietly(deps.store, job_id)
        raise
    return cleanup(deps, finished) if finished.is_terminal else finished


def _complete(deps: Deps, job: Job) -> Job:
    with tempfile.TemporaryDirectory(prefix="batchdrop-") as tmp:
        run = MergeRun(deps, job, Path(tmp))
        run.execute()
        if run.retries:
            return _retry_round(deps, job, run.retries, Path(tmp))
        return _publish(deps, job, run)


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
    job = deps.store.save(job.with_part(replace(part, collected=True)))
    _delete_service_files(deps, part)
    return job


def _delete_service_files(deps: Deps, part: Part) -> None:
    for file_id in (part.file_id, part.output_file_id, part.error_file_id):
        if file_id:
            deps.api.delete_file(file_id)


# Merging: one pass over the work index writes the results and finds what to retry.
@dataclass
class MergeRun:
    deps: Deps
    job: Job
    folder: Path
    tally: Tally = field(default_factory=Tally)
    retries: list[dict[str, Any]] = field(default_factory=list)
    outcomes: Outcomes = field(default_factory=Outcomes)
    expired_left: bool = False

    def execute(self) -> None:
        attempts = self._load()
        index = self._download(WORK_INDEX)
        parts = {p.index: p for p in self.job.parts}
        records = (raw for _, raw in iter_lines(_chunks(index)) if raw)
        spec = load_csv_spec(self.deps, self.job, _first_request(index))
        csv = CsvWriter.open(self.folder / "results.csv", spec)
        with (
            (self.folder / "results.jsonl").open("wb") as results,
            (self.folder / "errors.jsonl").open("wb") as errors,
        ):
            for row in merge(records, self.outcomes, parts, attempts):
                self._take(row, results, errors, csv)
        csv.close()

    def _take(self, row: dict[str, Any], results: Any, errors: Any, csv: CsvWriter) -> None:
        if retryable(row) and row["attempts"] < self.deps.settings.max_attempts:
            self.retries.append(row)
        line = orjson.dumps(row) + b"\n"
        results.write(line)
        csv.write(row)
        if row["status"] != "succeeded":
            errors.write(line)
            self.expired_left |= (row["error"] or {}).get("code") == "batch_expired"
        self.tally.add(row)

    def _load(self) -> Attempts:
        """The service's lines of every collected part, and which parts retried what."""
        attempts = Attempts()
        for part in self.job.parts:
            if part.round > 1:
                attempts.add_retry_part(self._custom_ids(part.work_name), part.index)
            for kind in ("out", "err"):
                if self._exists(_work_name(kind, part)):
                    path = self._download(_work_name(kind, part))
                    self.outcomes.add_file(_chunks(path), f"batch {part.batch_id}", part.index)
                    path.unlink()
        return attempts

    def _custom_ids(self, name: str) -> Iterator[str]:
        path = self._download(name)
        for _, raw in iter_lines(_chunks(path)):
            if raw:
                yield orjson.loads(raw)["custom_id"]

    def _exists(self, name: str) -> bool:
        return bool(self.deps.work.get_blob_client(work_prefix(self.job.job_id) + name).exists())

    def _download(self, name: str) -> Path:
        path = self.folder / name
        blobs.download_to(self.deps.work, work_prefix(self.job.job_id) + name, path)
        return path


def _first_request(index: Path) -> dict[str, Any] | None:
    with index.open("rb") as stream:
        line = stream.readline()
    return orjson.loads(line)["request"] if line.strip() else None


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def _retry_round(deps: Deps, job: Job, rows: list[dict[str, Any]], folder: Path) -> Job:
    """Send the retryable requests again in new parts; the poller takes it from there."""
    s = deps.settings
    splitter = Splitter(s.max_requests, s.max_bytes)
    # Placeholders for the existing parts, so the new ones continue the numbering.
    splitter.parts = [PartPlan(p.index, p.deployment, p.url) for p in job.parts]
    first_new = len(job.parts)
    urls = {p.deployment: p.url for p in job.parts}
    files: dict[int, Any] = {}
    for row in rows:
        body = row["request"]
        request = Request(row["line"], row["custom_id"], urls[body["model"]], body["model"], body)
        native = request.native()
        plan = splitter.place(request, len(native) + 1)
        out = files.get(plan.index) or files.setdefault(
            plan.index, (folder / f"part-{plan.index:04d}.jsonl").open("wb")
        )
        out.write(native + b"\n")
    for out in files.values():
        out.close()
        blobs.upload_file(deps.work, work_prefix(job.job_id) + Path(out.name).name, Path(out.name))
    round_ = max(p.round for p in job.parts) + 1
    new = tuple(
        Part(p.index, p.deployment, p.url, p.count, round=round_)
        for p in splitter.parts[first_new:]
    )
    log.info("job %s: retrying %d request(s) in %d batch(es)", job.job_id, len(rows), len(new))
    return deps.store.save(release(job.moved_to(JobStatus.SUBMITTING, parts=job.parts + new)))


def _publish(deps: Deps, job: Job, run: MergeRun) -> Job:
    status = outcome(job.parts, run.expired_left)
    counts = {
        "total": run.tally.total,
        "succeeded": run.tally.succeeded,
        "failed": run.tally.failed,
    }
    doc = summary(
        job,
        status.value,
        counts,
        usage=run.tally.usage,
        completed_at=_ended(job),
        errors=_errors(job, run.outcomes),
    )
    files = {
        "results.jsonl": run.folder / "results.jsonl",
        "errors.jsonl": run.folder / "errors.jsonl",
    }
    if (run.folder / "results.csv").exists():
        files["results.csv"] = run.folder / "results.csv"
    publish(deps, job, files, doc)
    log.info(
        "job %s %s: %d succeeded, %d failed",
        job.job_id,
        status.value,
        run.tally.succeeded,
        run.tally.failed,
    )
    return deps.store.save(
        job.moved_to(status, succeeded=run.tally.succeeded, failed=run.tally.failed)
    )


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
    return deps.store.save(job.changed(cleaned=True, lease_until=None))
