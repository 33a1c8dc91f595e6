"""The rows of a job in its own partition of the job table (job, lease, stop and retry
requests, parts), and of the open and name indexes (the listing index is jobs/listing.py):
every value bounded (shared.jobs.columns), human-readable columns for the portal."""

from __future__ import annotations

import hashlib
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

import orjson

from shared.jobs.columns import SHORT, fit, json_list
from shared.jobs.lease import LeaseState
from shared.jobs.model import Job, JobStatus, Pause, RetryRequest, Stop, StopReason
from shared.jobs.part import Part

JOB_ROW = "job"
LEASE_ROW = "lease"
STOP_ROW = "stop"
RETRY_ROW = "retry"
PART_PREFIX = "p"
OPEN_PREFIX = "open-"  # open-job index: one partition per first hex digit of the job id
NAME_PREFIX = "name-"  # every version of an input name: one partition per name
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PART_FIELDS = tuple(f.name for f in fields(Part))


def part_key(index: int) -> str:
    return f"{PART_PREFIX}{index:05d}"


def open_partition(job_id: str) -> str:
    return OPEN_PREFIX + job_id[0]


def name_partition(container: str, name: str) -> str:
    """Names may hold characters keys forbid: hashed."""
    return NAME_PREFIX + hashlib.sha256(f"{container}\n{name}".encode()).hexdigest()[:40]


def job_entity(job: Job) -> dict[str, Any]:
    return {
        "PartitionKey": job.job_id,
        "RowKey": JOB_ROW,
        "Status": job.status.value,
        "IsOpen": job.is_open,
        "Container": job.container,
        "BlobName": job.name,  # at most 1,024 characters (a blob name)
        "BlobETag": fit(job.etag),
        "BlobModified": job.blob_modified or EPOCH,
        "BlobContent": fit(job.content),
        "Deployments": fit(",".join(job.deployments)),
        "BatchIds": fit(",".join(job.batch_ids), 4 * SHORT),
        "PartCount": len(job.parts),
        "Total": job.total,
        "Completed": sum(p.completed for p in job.parts),
        "Failed": sum(p.failed for p in job.parts),
        "Succeeded": job.succeeded,
        "FailedFinal": job.failed,
        "CreatedAt": job.created_at,
        "UpdatedAt": job.updated_at,
        "LastError": fit(job.last_error, 4 * SHORT),
        "Cleaned": job.cleaned,
        "StopRequested": f"{job.stop.reason.value}: {fit(job.stop.detail)}" if job.stop else "",
        "StepFailures": job.step_failures,
        "Warnings": json_list(job.warnings),
        "Paused": _pause_text(job.paused),
        "EstimatedCost": job.estimated_cost,  # USD: None leaves the column out
        "CostSaving": job.saving,
        "FirstPart": job.first_part,
        "ReopenedAt": job.reopened_at or EPOCH,
        "WorkContainer": job.work_container,  # a container name: at most 63 characters
        "StatusSeq": job.status_seq,
        "ListedSeq": job.listed_seq,
    }


def part_entity(job_id: str, part: Part) -> dict[str, Any]:
    data: dict[str, Any] = {"PartitionKey": job_id, "RowKey": part_key(part.index)}
    for name in PART_FIELDS:
        value = getattr(part, name)
        if name == "errors":
            data[name] = json_list(part.errors)
        elif name == "deployment":
            data[name] = fit(value)
        elif value is not None:
            data[name] = value
    return data


def stop_entity(job_id: str, reason: StopReason, detail: str) -> dict[str, Any]:
    return {
        "PartitionKey": job_id,
        "RowKey": STOP_ROW,
        "Reason": reason.value,
        "Detail": fit(detail),
        "RequestedAt": datetime.now(UTC),
    }


def retry_entity(job_id: str, detail: str) -> dict[str, Any]:
    return {
        "PartitionKey": job_id,
        "RowKey": RETRY_ROW,
        "Detail": fit(detail),
        "RequestedAt": datetime.now(UTC),
    }


def lease_entity(job_id: str, lease: LeaseState, release: bool = False) -> dict[str, Any]:
    if release:
        return {"PartitionKey": job_id, "RowKey": LEASE_ROW, "Owner": "", "Until": EPOCH}
    return {
        "PartitionKey": job_id,
        "RowKey": LEASE_ROW,
        "Owner": lease.owner,
        "Until": lease.until or EPOCH,
    }


def version_entity(job: Job) -> dict[str, Any]:
    return {
        "PartitionKey": name_partition(job.container, job.name),
        "RowKey": job.job_id,
        "BlobModified": job.blob_modified or EPOCH,
        "BlobETag": fit(job.etag),
        "CreatedAt": job.created_at,
    }


def job_from_rows(rows: list[Any]) -> Job | None:
    """A job from its partition's rows (job, lease, stop, parts), or None without a job row."""
    by_key = {row["RowKey"]: row for row in rows}
    row = by_key.get(JOB_ROW)
    if row is None:
        return None
    count = int(row.get("PartCount", 0))
    # Part rows are written before (or with) the job row that counts them, so all are there.
    parts = tuple(_part(by_key[part_key(i)]) for i in range(count))
    return Job(
        job_id=row["PartitionKey"],
        container=row["Container"],
        name=row["BlobName"],
        etag=row["BlobETag"],
        status=JobStatus(row["Status"]),
        parts=parts,
        total=int(row.get("Total", 0)),
        succeeded=int(row.get("Succeeded", 0)),
        failed=int(row.get("FailedFinal", 0)),
        created_at=_aware(row["CreatedAt"]),
        updated_at=_aware(row["UpdatedAt"]),
        last_error=row.get("LastError", ""),
        cleaned=bool(row.get("Cleaned", False)),
        warnings=tuple(str(w) for w in orjson.loads(row.get("Warnings") or "[]")),
        blob_modified=_time(row.get("BlobModified")),
        content=str(row.get("BlobContent", "")),
        stop=_stop(by_key.get(STOP_ROW)),
        retry=_retry(by_key.get(RETRY_ROW)),
        step_failures=int(row.get("StepFailures", 0)),
        paused=_pause(row.get("Paused")),
        estimated_cost=row.get("EstimatedCost"),
        saving=row.get("CostSaving"),
        first_part=min(int(row.get("FirstPart", 0)), count),
        reopened_at=_time(row.get("ReopenedAt")),
        work_container=str(row.get("WorkContainer", "")),
        status_seq=int(row.get("StatusSeq", 0)),
        listed_seq=int(row.get("ListedSeq", -1)),
        row_etag=row.metadata.get("etag"),
        stored_status=JobStatus(row["Status"]),
        stored_parts=parts,
        lease=_lease(by_key.get(LEASE_ROW)),
    )


def _part(row: Any) -> Part:
    data = {name: row[name] for name in PART_FIELDS if name in row}
    data["errors"] = tuple(
        e for e in orjson.loads(row.get("errors") or "[]") if isinstance(e, dict)
    )
    return Part(**data)


def _stop(row: Any) -> Stop | None:
    if row is None:
        return None
    return Stop(StopReason(row["Reason"]), row.get("Detail", ""), _aware(row["RequestedAt"]))


def _pause_text(pause: Pause | None) -> str:
    if pause is None:
        return ""
    data = {**pause.__dict__, "resume": pause.resume.value, "setting": fit(pause.setting)}
    return orjson.dumps(data).decode()


def _pause(text: str | None) -> Pause | None:
    if not text:
        return None
    data = orjson.loads(text)
    return Pause(**{**data, "resume": JobStatus(data["resume"])})


def _retry(row: Any) -> RetryRequest | None:
    if row is None:
        return None
    return RetryRequest(row.get("Detail", ""), _aware(row["RequestedAt"]))


def _lease(row: Any) -> LeaseState:
    if row is None:
        return LeaseState()
    return LeaseState(
        owner=row.get("Owner", ""), until=_time(row.get("Until")), etag=row.metadata.get("etag")
    )


def _time(value: datetime | None) -> datetime | None:
    return _aware(value) if value and value.year > 1970 else None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
