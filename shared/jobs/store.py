"""The job table: one row per job, every change a conditional write."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.jobs.model import Job, JobStatus, Part, renewed

PARTITION = "job"
# One small row per open job, so a poll tick reads the open ones without scanning the history.
OPEN_INDEX = "open"


class Conflict(Exception):
    """Someone else changed the job since it was read (HTTP 412); re-read and decide again."""


class JobStore(Protocol):
    def create(self, job: Job) -> Job | None:
        """Insert the job; None if a job with its id already exists (create-if-absent)."""

    def get(self, job_id: str) -> Job | None: ...

    def save(self, job: Job) -> Job:
        """Write the job if the row is unchanged since it was read; raises Conflict otherwise."""

    def open_job_ids(self) -> Iterator[str]:
        """Ids of jobs that may still need work (a stale id is possible: get() tells)."""

    def forget(self, job_id: str) -> None:
        """Drop a finished job from the open index."""

    def open_jobs(self) -> Iterator[Job]: ...

    def all_jobs(self) -> Iterator[Job]: ...


class TableJobStore:
    """JobStore on Azure Table Storage (or Azurite)."""

    def __init__(self, table: TableClient) -> None:
        self.table = table

    def create(self, job: Job) -> Job | None:
        try:
            meta = self.table.create_entity(to_entity(job))
        except ResourceExistsError:
            self._reindex(job.job_id)
            return None
        self._index(job.job_id)
        return replace(job, row_etag=meta.get("etag"))

    def _index(self, job_id: str) -> None:
        self.table.upsert_entity({"PartitionKey": OPEN_INDEX, "RowKey": job_id})

    def _reindex(self, job_id: str) -> None:
        """A repeated event: repair the index if a crash came between row and index."""
        job = self.get(job_id)
        if job is not None and job.is_open:
            self._index(job_id)

    def get(self, job_id: str) -> Job | None:
        try:
            return from_entity(self.table.get_entity(PARTITION, job_id))
        except ResourceNotFoundError:
            return None

    def save(self, job: Job) -> Job:
        job = renewed(job)
        try:
            meta = self.table.update_entity(
                to_entity(job),
                mode=UpdateMode.REPLACE,
                etag=job.row_etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError) as exc:
            raise Conflict(job.job_id) from exc
        if not job.is_open:
            self.forget(job.job_id)
        return replace(job, row_etag=meta.get("etag"))

    def open_job_ids(self) -> Iterator[str]:
        # Pages may be empty with a continuation token; the SDK's pager follows them.
        query = f"PartitionKey eq '{OPEN_INDEX}'"
        for entity in self.table.query_entities(query, results_per_page=1000, select="RowKey"):
            yield entity["RowKey"]

    def forget(self, job_id: str) -> None:
        self.table.delete_entity(OPEN_INDEX, job_id)  # no error if already gone

    def open_jobs(self) -> Iterator[Job]:
        for job_id in self.open_job_ids():
            job = self.get(job_id)
            if job is not None and job.is_open:
                yield job

    def all_jobs(self) -> Iterator[Job]:
        for entity in self.table.query_entities(f"PartitionKey eq '{PARTITION}'"):
            yield from_entity(entity)


def to_entity(job: Job) -> dict[str, Any]:
    """Human-readable columns for the portal's Storage browser, plus the parts as JSON."""
    return {
        "PartitionKey": PARTITION,
        "RowKey": job.job_id,
        "Status": job.status.value,
        "IsOpen": job.is_open,
        "Container": job.container,
        "BlobName": job.name,
        "BlobETag": job.etag,
        "Deployments": ",".join(job.deployments),
        "BatchIds": ",".join(job.batch_ids),
        "Total": job.total,
        "Completed": sum(p.completed for p in job.parts),
        "Failed": sum(p.failed for p in job.parts),
        "Succeeded": job.succeeded,
        "FailedFinal": job.failed,
        "CreatedAt": job.created_at,
        "UpdatedAt": job.updated_at,
        "LastError": job.last_error[:4000],
        "LeaseUntil": job.lease_until or datetime(1970, 1, 1, tzinfo=UTC),
        "LeaseOwner": job.lease_owner,
        "Cleaned": job.cleaned,
        "CancelRequested": job.cancel_requested,
        "Parts": orjson.dumps([p.to_dict() for p in job.parts]).decode(),
        "Warnings": orjson.dumps(_capped(job.warnings)).decode(),
    }


def _capped(warnings: tuple[str, ...]) -> list[str]:
    """Table strings hold 64 KiB: keep whole warnings (valid JSON), as many as fit."""
    kept: list[str] = []
    size = 0
    for warning in warnings:
        size += len(warning) + 4
        if size > 30_000:
            kept.append(f"... and {len(warnings) - len(kept)} more warnings")
            break
        kept.append(warning)
    return kept


def from_entity(entity: Any) -> Job:
    lease = entity.get("LeaseUntil")
    return Job(
        job_id=entity["RowKey"],
        container=entity["Container"],
        name=entity["BlobName"],
        etag=entity["BlobETag"],
        status=JobStatus(entity["Status"]),
        parts=tuple(Part.from_dict(p) for p in orjson.loads(entity.get("Parts") or "[]")),
        total=int(entity.get("Total", 0)),
        succeeded=int(entity.get("Succeeded", 0)),
        failed=int(entity.get("FailedFinal", 0)),
        created_at=_aware(entity["CreatedAt"]),
        updated_at=_aware(entity["UpdatedAt"]),
        last_error=entity.get("LastError", ""),
        lease_until=_aware(lease) if lease and lease.year > 1970 else None,
        lease_owner=entity.get("LeaseOwner", ""),
        cleaned=bool(entity.get("Cleaned", False)),
        cancel_requested=bool(entity.get("CancelRequested", False)),
        warnings=tuple(orjson.loads(entity.get("Warnings") or "[]")),
        row_etag=entity.metadata.get("etag"),
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
