"""summary.json: a job's outcome for people, built from stored facts only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from shared.jobs.model import Job
from shared.jobs.part import Part
from shared.results.tally import USAGE_KEYS

JSON_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def summary(job: Job, status: str, counts: dict[str, int], **extra: Any) -> dict[str, Any]:
    """summary.json: built from stored facts only, so writing it twice gives the same bytes.
    Times are UTC to the second, written `2026-01-31T12:00:00Z`; ETags without quotes."""
    part_errors = extra.get("part_errors") or {}
    return {
        "job_id": job.job_id,
        "status": status,
        "input": {"container": job.container, "name": job.name, "etag": etag(job.etag)},
        "counts": counts,
        "batches": [_batch(p, part_errors.get(p.index)) for p in job.parts],
        "usage": extra.get("usage", dict.fromkeys(USAGE_KEYS, 0)),
        "cost": extra.get("cost"),
        "finish_reasons": dict(extra.get("finish_reasons") or {}),
        "job_settings": _settings(extra.get("job_settings")),
        "duplicate_of": extra.get("duplicate_of"),
        "created_at": stamp(job.created_at),
        "completed_at": extra.get("completed_at"),
        "timings": _timings(job, extra.get("completed_at")),
        "warnings": list(job.warnings) + list(extra.get("warnings", [])),
        "errors": list(extra.get("errors", [])),
    }


def not_sent(total: int, problems: int | None = None) -> dict[str, int]:
    """The counts of a file nothing of which was sent (rejected, or skipped as a duplicate):
    total = succeeded + failed + not_sent, as for every job."""
    counts = {"total": total, "succeeded": 0, "failed": 0, "not_sent": total}
    if problems is not None:
        counts["problems"] = problems
    return counts


def etag(value: str) -> str:
    """An ETag as the portal shows it: the SDK quotes it, listings and events do not."""
    return value.strip('"')


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def _settings(used: Any) -> dict[str, str] | None:
    if not isinstance(used, dict):
        return None
    return {"name": str(used.get("name")), "etag": etag(str(used.get("etag") or ""))}


def _timings(job: Job, completed_at: str | None) -> dict[str, Any]:
    """How long the job took, from the stored facts (so a rerun writes the same numbers)."""
    rounds = max((p.round for p in job.parts), default=0)
    if not completed_at:
        return {"total_seconds": None, "retry_rounds": max(rounds - 1, 0)}
    total = datetime.fromisoformat(completed_at) - job.created_at
    return {"total_seconds": max(int(total.total_seconds()), 0), "retry_rounds": max(rounds - 1, 0)}


def _batch(part: Part, errors: list[dict[str, Any]] | None) -> dict[str, Any]:
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
        "errors": list(part.errors) if errors is None else errors,
    }


def iso(epoch: int | None) -> str | None:
    return stamp(datetime.fromtimestamp(epoch, UTC)) if epoch else None


def summary_bytes(doc: dict[str, Any]) -> bytes:
    """summary.json's bytes: sorted keys, so the same facts always give the same file."""
    return orjson.dumps(doc, option=JSON_OPTIONS) + b"\n"
