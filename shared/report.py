"""The user-facing outputs of a job: summary.json and the rejected-file report."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from .blobs import upload_file
from .deps import Deps
from .intake import Intake
from .jobs import Job
from .paths import output_prefix

JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def summary(job: Job, status: str, counts: dict[str, int], **extra: Any) -> dict[str, Any]:
    """summary.json: built from stored facts only, so writing it twice gives the same bytes."""
    return {
        "job_id": job.job_id,
        "status": status,
        "input": {"container": job.container, "name": job.name, "etag": job.etag},
        "counts": counts,
        "batches": [_batch(p) for p in job.parts],
        "usage": extra.get(
            "usage", {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        ),
        "created_at": job.created_at.isoformat(),
        "completed_at": extra.get("completed_at"),
        "timings": _timings(job, extra.get("completed_at")),
        "warnings": list(job.warnings) + list(extra.get("warnings", [])),
        "errors": list(extra.get("errors", [])),
    }


def _timings(job: Job, completed_at: str | None) -> dict[str, Any]:
    """How long the job took, from the stored facts (so a rerun writes the same numbers)."""
    rounds = max((p.round for p in job.parts), default=0)
    if not completed_at:
        return {"total_seconds": None, "retry_rounds": max(rounds - 1, 0)}
    total = datetime.fromisoformat(completed_at) - job.created_at
    return {"total_seconds": max(int(total.total_seconds()), 0), "retry_rounds": max(rounds - 1, 0)}


def _batch(part: Any) -> dict[str, Any]:
    return {
        "part": part.index,
        "round": part.round,
        "ended_at": iso(part.ended_at),
        "id": part.batch_id,
        "deployment": part.deployment,
        "status": part.remote_status,
        "requests": part.count,
        "completed": part.completed,
        "failed": part.failed,
        "errors": list(part.errors),
    }


def iso(epoch: int | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat() if epoch else None


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("wb") as out:
        for row in rows:
            out.write(orjson.dumps(row))
            out.write(b"\n")


def publish(deps: Deps, job: Job, files: dict[str, Path], summary_doc: dict[str, Any]) -> None:
    """Upload the outputs, summary.json last so its presence means the rest is complete."""
    prefix = output_prefix(job.name)
    for name, path in files.items():
        upload_file(deps.output, f"{prefix}/{name}", path)
    summary_path = next(iter(files.values())).with_name("summary.json")
    summary_path.write_bytes(orjson.dumps(summary_doc, option=JSON_OPTIONS) + b"\n")
    upload_file(deps.output, f"{prefix}/summary.json", summary_path)


def publish_rejection(deps: Deps, job: Job, intake: Intake) -> None:
    more = intake.problem_count - len(intake.problems)
    errors = [
        {
            "code": "invalid_input",
            "message": f"{intake.problem_count} problem(s) in the file; nothing was submitted. "
            "errors.jsonl lists each with its line; fix them and upload the file again."
            + (f" Only the first {len(intake.problems)} are listed." if more else ""),
        }
    ]
    doc = summary(
        job,
        "rejected",
        {"total": intake.total, "succeeded": 0, "failed": 0},
        warnings=intake.warnings,
        errors=errors,
    )
    with tempfile.TemporaryDirectory(prefix="batchdrop-") as tmp:
        path = Path(tmp) / "errors.jsonl"
        write_jsonl(path, (p.to_dict() for p in intake.problems))
        publish(deps, job, {"errors.jsonl": path}, doc)
