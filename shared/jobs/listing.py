"""The listing index: every job, newest first, paged, filtered by status and input name prefix.

Layout: one partition per month of creation, `list-<999999 - yyyymm>` (a month's creates share
a partition, so no single partition stays hot for ever, and a range query over `list-` reads the
newest month first), RowKey `<10^17 - 1 - microseconds since 1970>-<job id>` (newest first
within the month). A row holds what the service can filter on: `Status`, `Container`,
`BlobName`, and `Seq`, the job's `status_seq` when that status was set.

Keeping a status filter right while jobs change: the row lives in another partition than the
job, so it cannot share the job's transaction; it is written right after it, and only forward
(a write carrying an older `Seq` than the row's is dropped, so a slow writer never puts back an
older status). The job row's `ListedSeq` says which change the index is known to hold: the next
save of the job writes a row that a crash left behind. Readers check each listed job's own row
(a point read), so a job is never shown under a status it has left.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.jobs.entities import JOB_ROW
from shared.jobs.model import Job, JobStatus

if TYPE_CHECKING:
    from shared.jobs.ports import Table

LIST_PREFIX = "list-"
MAX_MICROS = 10**17 - 1  # the year 5138: RowKeys keep 17 digits
MAX_LIMIT = 200
MAX_PREFIX = 1024  # a blob name's length
READERS = 8  # point reads of a page's job rows at once
TOKEN = re.compile(r"list-\d{6}/\d{17}-[0-9a-f]{40}")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WRITE_TRIES = 3


@dataclass(frozen=True)
class JobSummary:
    """One job as its job row tells it (no part rows): what a listing shows."""

    job_id: str
    status: JobStatus
    container: str
    name: str
    etag: str
    total: int
    succeeded: int
    failed: int
    requests_done: int  # the service's progress over every batch: completed + failed
    batches: int
    deployments: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    last_error: str
    stop_requested: str


@dataclass(frozen=True)
class ListPage:
    jobs: list[JobSummary]
    next: str | None  # the continuation token; None on the last page


def listing_keys(job_id: str, created_at: datetime) -> tuple[str, str]:
    created = created_at.astimezone(UTC)
    month = created.year * 100 + created.month
    micros = (created - EPOCH) // timedelta(microseconds=1)
    return f"{LIST_PREFIX}{999999 - month:06d}", f"{MAX_MICROS - micros:017d}-{job_id}"


def listing_entity(job: Job) -> dict[str, Any]:
    pk, rk = listing_keys(job.job_id, job.created_at)
    return {
        "PartitionKey": pk,
        "RowKey": rk,
        "JobId": job.job_id,
        "Status": job.status.value,
        "Seq": job.status_seq,
        "Container": job.container,
        "BlobName": job.name,  # at most 1,024 characters (a blob name)
        "CreatedAt": job.created_at,
    }


def write_listing(table: Table, job: Job) -> None:
    """Put the job's current status into its listing row, unless a later change is there."""
    entity = listing_entity(job)
    for _ in range(WRITE_TRIES):
        try:
            current = table.get_entity(entity["PartitionKey"], entity["RowKey"])
        except ResourceNotFoundError:
            try:
                table.create_entity(entity)
                return
            except ResourceExistsError:
                continue  # written meanwhile: compare with that
        if int(current.get("Seq", -1)) >= job.status_seq:
            return
        try:
            table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=current.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
            return
        except (ResourceModifiedError, ResourceNotFoundError):
            continue
    raise ResourceModifiedError(f"listing row of job {job.job_id}: kept changing")


def check_prefix(prefix: str) -> str:
    if len(prefix) > MAX_PREFIX or any(ord(c) < 32 or ord(c) == 127 for c in prefix):
        raise ValueError(
            f"prefix must be at most {MAX_PREFIX} characters without control characters"
        )
    return prefix


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return limit


def decode_token(token: str) -> tuple[str, str]:
    """The (PartitionKey, RowKey) a continuation token names; ValueError for anything else."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not TOKEN.fullmatch(text):
        raise ValueError("the continuation token is not one this API gave out (pass `next` as is)")
    pk, rk = text.split("/")
    return pk, rk


def encode_token(pk: str, rk: str) -> str:
    return base64.urlsafe_b64encode(f"{pk}/{rk}".encode()).decode().rstrip("=")


def page(
    table: Table,
    limit: int,
    statuses: frozenset[JobStatus] | None = None,
    prefix: str | None = None,
    after: str | None = None,
) -> ListPage:
    """Up to `limit` jobs, newest first, after the continuation token `after`. A page may hold
    fewer when a job's status changed since it was listed; `next` says whether more follow."""
    query, params = _query(statuses, prefix, decode_token(after) if after else None)
    found = table.query_entities(
        query,
        parameters=params,
        results_per_page=min(limit + 1, 1000),
        select=["PartitionKey", "RowKey"],
    )
    rows = list(islice(found, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    with ThreadPoolExecutor(READERS, "listing") as pool:
        jobs = list(pool.map(lambda r: _summary(table, _job_id(r)), rows))
    kept = [j for j in jobs if j is not None and (statuses is None or j.status in statuses)]
    last = rows[-1] if more else None
    return ListPage(kept, encode_token(last["PartitionKey"], last["RowKey"]) if last else None)


def _job_id(row: Any) -> str:
    return str(row["RowKey"]).partition("-")[2]


def _query(
    statuses: Iterable[JobStatus] | None, prefix: str | None, after: tuple[str, str] | None
) -> tuple[str, dict[str, Any]]:
    """An OData filter with parameters (the SDK substitutes `@name` between spaces)."""
    params: dict[str, Any] = {"hi": LIST_PREFIX[:-1] + "."}
    if after is None:
        clauses = ["PartitionKey ge @lo"]
        params["lo"] = LIST_PREFIX
    else:
        clauses = ["( ( PartitionKey eq @pk and RowKey gt @rk ) or PartitionKey gt @pk )"]
        params["pk"], params["rk"] = after
    clauses.append("PartitionKey lt @hi")
    if statuses is not None:
        names = [f"@s{i}" for i, _ in enumerate(sorted(statuses))]
        params.update({n[1:]: s.value for n, s in zip(names, sorted(statuses), strict=True)})
        clauses.append("( " + " or ".join(f"Status eq {n}" for n in names) + " )")
    if prefix:
        params["np"] = prefix
        clauses.append("BlobName ge @np")
        upper = _successor(prefix)
        if upper is not None:
            params["nq"] = upper
            clauses.append("BlobName lt @nq")
    return " and ".join(clauses), params


def _successor(prefix: str) -> str | None:
    """The least string after every string that starts with `prefix` (None: no bound)."""
    stem = prefix.rstrip("\U0010ffff")
    if not stem:
        return None
    following = ord(stem[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:  # surrogates are no characters: skip them
        following = 0xE000
    return stem[:-1] + chr(following)


def _summary(table: Table, job_id: str) -> JobSummary | None:
    try:
        row = table.get_entity(job_id, JOB_ROW)
    except ResourceNotFoundError:
        return None
    return summary_of(row)


def summary_of(row: Any) -> JobSummary:
    deployments = str(row.get("Deployments") or "")
    return JobSummary(
        job_id=row["PartitionKey"],
        status=JobStatus(row["Status"]),
        container=row["Container"],
        name=row["BlobName"],
        etag=row["BlobETag"],
        total=int(row.get("Total", 0)),
        succeeded=int(row.get("Succeeded", 0)),
        failed=int(row.get("FailedFinal", 0)),
        requests_done=int(row.get("Completed", 0)) + int(row.get("Failed", 0)),
        batches=int(row.get("PartCount", 0)),
        deployments=tuple(d for d in deployments.split(",") if d),
        created_at=_aware(row["CreatedAt"]),
        updated_at=_aware(row["UpdatedAt"]),
        last_error=str(row.get("LastError") or ""),
        stop_requested=str(row.get("StopRequested") or ""),
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
