"""Which job a person means: a job id, the start of one (8 hex digits or more, as `jobs`
shows them), or an input blob's name (its newest recorded version)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from batchdrop_cli.connect import Connection
from shared.jobs.entities import JOB_ROW
from shared.jobs.model import Job

JOB_ID = re.compile(r"[0-9a-f]{40}")
ID_START = re.compile(r"[0-9a-f]{8,39}")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class NotFound(LookupError):
    """No job, or more than one, answers to what was given."""


def find_job(conn: Connection, given: str) -> Job:
    if JOB_ID.fullmatch(given):
        job = conn.store.get(given)
        if job is None:
            raise NotFound(f"no job {given}")
        return job
    if ID_START.fullmatch(given):
        ids = _ids_starting_with(conn, given)
        if len(ids) > 1:
            raise NotFound(f"{given} starts {len(ids)} job ids: give more of it")
        if ids:
            return find_job(conn, ids[0])
    return _newest_version(conn, given.removeprefix(conn.input_container + "/"))


def _ids_starting_with(conn: Connection, start: str) -> list[str]:
    query = "PartitionKey ge @lo and PartitionKey lt @hi and RowKey eq @rk"
    bound = start[:-1] + chr(ord(start[-1]) + 1)
    found = conn.store.table.query_entities(
        query, parameters={"lo": start, "hi": bound, "rk": JOB_ROW}, select=["PartitionKey"]
    )
    return [row["PartitionKey"] for _, row in zip(range(2), found, strict=False)]


def _newest_version(conn: Connection, name: str) -> Job:
    ids = [job_id for job_id, _ in conn.store.versions(conn.input_container, name)]
    jobs = [j for j in map(conn.store.get, ids) if j is not None]
    if not jobs:
        raise NotFound(f"no job for {name!r} in {conn.input_container} (nor a job id like it)")
    return max(jobs, key=lambda j: (j.blob_modified or EPOCH, j.created_at))
