"""summary.json: a job's outcome for people, built from stored facts only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from shared.jobs.model import Job
from shared.jobs.part import Part

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


def _batch(part: Part) -> dict[str, Any]:
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


def summary_bytes(doc: dict[str, Any]) -> bytes:
    """summary.json's bytes: sorted keys, so the same facts always give the same file."""
    return orjson.dumps(doc, option=JSON_OPTIONS) + b"\n"
