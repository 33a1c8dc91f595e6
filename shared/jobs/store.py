"""The job table: each job in its own partition (job row, lease row, stop and retry request
rows, one row per part), every write conditional on the lease row and the job row, plus three
indexes (open jobs, versions of an input name, every job newest first: jobs/listing.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableTransactionError, UpdateMode

from shared.jobs import entities as rows
from shared.jobs import listing
from shared.jobs.lease import LeaseState
from shared.jobs.model import Conflict, Job, JobStatus, StopReason, utcnow
from shared.jobs.ports import JobStore, Table
from shared.telemetry import events

__all__ = ["JobStore", "Table", "TableJobStore"]  # the Protocols live in jobs/ports.py

log = logging.getLogger(__name__)

MAX_OPS = 100  # one entity-group transaction
PAGE = 1000
OVERLAP_TRIES = 5  # Azurite refuses two transactions at once ("Transaction Overlap")


class TableJobStore:
    """JobStore on Azure Table Storage (or Azurite)."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def create(self, job: Job) -> Job | None:
        lease = LeaseState()
        ops = [
            ("create", rows.job_entity(job)),
            ("create", rows.lease_entity(job.job_id, lease)),
            *(("create", rows.part_entity(job.job_id, p)) for p in job.parts),
        ]
        try:
            result = self._submit(ops)
        except ResourceExistsError:
            self._reindex(job.job_id)
            return None
        self._index(job)
        lease.etag = result[1].get("etag")
        events.job_state_changed(job, None)
        created = replace(
            job,
            row_etag=result[0].get("etag"),
            stored_parts=job.parts,
            stored_status=job.status,
            lease=lease,
        )
        return self._listed(created)

    def _index(self, job: Job) -> None:
        self.table.upsert_entity(
            {"PartitionKey": rows.open_partition(job.job_id), "RowKey": job.job_id}
        )
        self.table.upsert_entity(rows.version_entity(job))

    def _listed(self, job: Job) -> Job:
        """The listing row after the job's own write (another partition: not in its
        transaction). A failure leaves it to the job's next save, never fails this one."""
        if job.listed_seq >= job.status_seq:
            return job
        try:
            listing.write_listing(self.table, job)
        except HttpResponseError:
            log.warning("job %s: listing index not updated; the next save retries", job.job_id)
            return job
        return replace(job, listed_seq=job.status_seq)

    def _reindex(self, job_id: str) -> None:
        """A repeated event: repair the indexes if a crash came between the rows and them."""
        job = self.get(job_id)
        if job is not None and job.is_open:
            self._index(job)
        if job is not None:
            self._listed(job)

    def get(self, job_id: str) -> Job | None:
        found = self.table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": job_id}, results_per_page=PAGE
        )
        return rows.job_from_rows(list(found))

    def save(self, job: Job, release: bool = False) -> Job:
        lease = job.lease or LeaseState()
        changed = [p for p in job.parts if _changed(p, job.stored_parts)]
        # REPLACE, not the default MERGE: a field set back to None must not keep its old value.
        replace_mode = {"mode": UpdateMode.REPLACE}
        part_ops = [("upsert", rows.part_entity(job.job_id, p), replace_mode) for p in changed]
        # Applied requests (stop, retry) go in the last transaction, with the job row.
        drops = [("delete", {"PartitionKey": job.job_id, "RowKey": k}) for k in job.drop_rows]
        room = MAX_OPS - 2 - len(drops)
        chunks = [part_ops[i : i + room] for i in range(0, len(part_ops), room)] or [[]]
        with lease.lock:
            for number, chunk in enumerate(chunks):
                last = number == len(chunks) - 1
                ops = [self._lease_op(job.job_id, lease, release and last)]
                if last:
                    ops += [self._job_op(job), *drops]
                result = self._submit([*ops, *chunk])
                lease.etag = result[0].get("etag")
            row_etag = result[1].get("etag")
            if release:
                lease.mine, lease.owner, lease.until = False, "", None
        if not job.is_open:
            self.forget(job.job_id)
        if job.status != job.stored_status:  # reported once written; never raises
            events.job_state_changed(job, job.stored_status)
        saved = replace(
            job,
            row_etag=row_etag,
            stored_parts=job.parts,
            stored_status=job.status,
            lease=lease,
            drop_rows=(),
        )
        return self._listed(saved)

    def _lease_op(self, job_id: str, lease: LeaseState, release: bool) -> tuple[Any, ...]:
        """Every write goes through the lease row: conditional on it, so a writer whose copy
        is older than the last claim, renewal or write fails; the holder renews it on the way."""
        if lease.mine:
            lease.until = lease.renewal(utcnow())
        entity = rows.lease_entity(job_id, lease, release)
        if not lease.mine and not release:
            entity = {"PartitionKey": job_id, "RowKey": rows.LEASE_ROW, "Written": utcnow()}
        return _conditional(entity, lease.etag, UpdateMode.MERGE)

    def _job_op(self, job: Job) -> tuple[Any, ...]:
        return _conditional(rows.job_entity(job), job.row_etag, UpdateMode.REPLACE)

    def claim(self, job: Job, lease: LeaseState) -> Job | None:
        entity = rows.lease_entity(job.job_id, lease)
        try:
            if lease.etag is None:  # no lease row yet: the first claim creates it
                meta = self.table.create_entity(entity)
            else:
                meta = self.table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=lease.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceModifiedError, ResourceNotFoundError, ResourceExistsError):
            return None
        lease.etag = meta.get("etag")
        return replace(job, lease=lease)

    def renew(self, job_id: str, lease: LeaseState) -> bool:
        with lease.lock:
            until = lease.renewal(utcnow())
            entity = rows.lease_entity(job_id, replace_until(lease, until))
            try:
                meta = self.table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=lease.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                lease.lost = True
                return False
            lease.etag, lease.until = meta.get("etag"), until
            return True

    def request_stop(self, job_id: str, reason: StopReason, detail: str) -> bool:
        try:
            self.table.create_entity(rows.stop_entity(job_id, reason, detail))
        except ResourceExistsError:
            return False
        return True

    def request_retry(self, job_id: str, detail: str) -> bool:
        try:
            self.table.create_entity(rows.retry_entity(job_id, detail))
            created = True
        except ResourceExistsError:
            created = False
        # Also when it existed: a crash may have come between the request and the index.
        self.table.upsert_entity({"PartitionKey": rows.open_partition(job_id), "RowKey": job_id})
        return created

    def list_jobs(
        self,
        limit: int,
        statuses: frozenset[JobStatus] | None = None,
        prefix: str | None = None,
        after: str | None = None,
    ) -> listing.ListPage:
        return listing.page(self.table, limit, statuses, prefix, after)

    def versions(self, container: str, name: str) -> list[tuple[str, datetime | None]]:
        found = self.table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": rows.name_partition(container, name)}
        )
        return [(e["RowKey"], rows._time(e.get("BlobModified"))) for e in found]

    def note_touch(self, job: Job, same_as: str) -> None:
        # A version row without a job: versions() lists it, get() finds no job for it.
        self.table.upsert_entity({**rows.version_entity(job), "SameAs": same_as})

    def open_job_ids(self) -> Iterator[str]:
        # Pages may be empty with a continuation token; the SDK's pager follows them.
        query = "PartitionKey ge @lo and PartitionKey lt @hi"
        bounds = {"lo": rows.OPEN_PREFIX, "hi": rows.OPEN_PREFIX[:-1] + "."}
        for entity in self.table.query_entities(
            query, parameters=bounds, results_per_page=PAGE, select="RowKey"
        ):
            yield entity["RowKey"]

    def forget(self, job_id: str) -> None:
        self.table.delete_entity(rows.open_partition(job_id), job_id)  # no error if gone
        # A retry asked meanwhile (its row first, then the index) must not be lost with it.
        try:
            self.table.get_entity(job_id, rows.RETRY_ROW)
        except ResourceNotFoundError:
            return
        self.table.upsert_entity({"PartitionKey": rows.open_partition(job_id), "RowKey": job_id})

    def open_jobs(self) -> Iterator[Job]:
        for job_id in self.open_job_ids():
            job = self.get(job_id)
            if job is not None and job.is_open:
                yield job

    def all_jobs(self) -> Iterator[Job]:
        for entity in self.table.query_entities(
            "RowKey eq @rk", parameters={"rk": rows.JOB_ROW}, select="PartitionKey"
        ):
            job = self.get(entity["PartitionKey"])
            if job is not None:
                yield job

    def _submit(self, ops: list[tuple[Any, ...]]) -> list[Any]:
        for attempt in range(OVERLAP_TRIES):
            try:
                return list(self.table.submit_transaction(ops))
            except TableTransactionError as exc:
                if _overlap(exc) and attempt < OVERLAP_TRIES - 1:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                raise _translated(exc) from exc
        raise AssertionError("unreachable")


def replace_until(lease: LeaseState, until: datetime) -> LeaseState:
    return LeaseState(owner=lease.owner, until=until, etag=lease.etag, mine=True)


def _conditional(entity: dict[str, Any], etag: str | None, mode: UpdateMode) -> tuple[Any, ...]:
    if etag is None:  # a row written before this layout: create it (fails if it exists)
        return ("upsert", entity, {"mode": mode})
    options = {"mode": mode, "etag": etag, "match_condition": MatchConditions.IfNotModified}
    return ("update", entity, options)


def _changed(part: Any, stored: tuple[Any, ...]) -> bool:
    return part.index >= len(stored) or stored[part.index] != part


def _overlap(exc: HttpResponseError) -> bool:
    return "overlap" in str(exc).lower()


def _translated(exc: TableTransactionError) -> Exception:
    """412 or a missing row: someone else wrote first. 409 on a create: it exists already."""
    status = exc.status_code
    if status == 409 or "EntityAlreadyExists" in str(exc):
        return ResourceExistsError(str(exc))
    if status in (404, 412) or "UpdateConditionNotSatisfied" in str(exc):
        return Conflict(str(exc))
    return exc
