"""The completion use case: download, merge, write the outputs, clean up."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import orjson

from . import blobs
from .deps import Deps
from .intake import iter_lines
from .jobs import Job, JobStatus, outcome
from .merge import Outcomes, Tally, merge
from .paths import WORK_INDEX, work_prefix
from .report import iso, publish, summary, write_jsonl
from .store import claim, release_quietly

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
        finished = merge_and_publish(deps, claimed)
    except Exception:
        release_quietly(deps.store, job_id)
        raise
    return cleanup(deps, finished)


def merge_and_publish(deps: Deps, job: Job) -> Job:
    with tempfile.TemporaryDirectory(prefix="batchdrop-") as tmp:
        folder = Path(tmp)
        outcomes = _collect_outcomes(deps, job, folder)
        index = folder / WORK_INDEX
        blobs.download_to(deps.work, work_prefix(job.job_id) + WORK_INDEX, index)
        tally = _write_results(job, index, outcomes, folder)
        status = outcome(job.parts)
        doc = summary(
            job,
            status.value,
            {"total": tally.total, "succeeded": tally.succeeded, "failed": tally.failed},
            usage=tally.usage,
            completed_at=_ended(job),
            errors=_errors(job, outcomes),
        )
        files = {"results.jsonl": folder / "results.jsonl", "errors.jsonl": folder / "errors.jsonl"}
        publish(deps, job, files, doc)
    log.info(
        "job %s %s: %d succeeded, %d failed",
        job.job_id,
        status.value,
        tally.succeeded,
        tally.failed,
    )
    return deps.store.save(job.moved_to(status, succeeded=tally.succeeded, failed=tally.failed))


def _collect_outcomes(deps: Deps, job: Job, folder: Path) -> Outcomes:
    outcomes = Outcomes()
    for part in job.parts:
        for file_id in (part.output_file_id, part.error_file_id):
            if file_id:
                path = folder / f"{file_id}.jsonl"
                deps.api.download(file_id, path)
                outcomes.add_file(_chunks(path), f"{file_id} (batch {part.batch_id})")
                path.unlink()
    return outcomes


def _chunks(path: Path) -> Any:
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def _write_results(job: Job, index: Path, outcomes: Outcomes, folder: Path) -> Tally:
    tally = Tally()
    parts = {p.index: p for p in job.parts}
    requests = (raw for _, raw in iter_lines(_chunks(index)) if raw)
    with (folder / "errors.jsonl").open("wb") as errors:

        def counted(rows: Any) -> Any:
            for row in rows:
                tally.add(row)
                if row["status"] != "succeeded":
                    errors.write(orjson.dumps(row) + b"\n")
                yield row

        write_jsonl(folder / "results.jsonl", counted(merge(requests, outcomes, parts)))
    return tally


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
        for file_id in (part.file_id, part.output_file_id, part.error_file_id):
            if file_id:
                deps.api.delete_file(file_id)
    removed = blobs.delete_prefix(deps.work, work_prefix(job.job_id))
    log.info("job %s cleaned up (%d work files)", job.job_id, removed)
    return deps.store.save(job.changed(cleaned=True, lease_until=None))
