"""The job table's two seams as Protocols: the Table calls the store makes (tests fake them)
and the JobStore the use cases call (implemented by jobs/store.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shared.jobs.lease import LeaseState
    from shared.jobs.listing import ListPage
    from shared.jobs.model import Job, JobStatus, StopReason


class Table(Protocol):
    """The calls the store makes on azure.data.tables.TableClient (tests fake this seam)."""

    def get_entity(self, partition_key: str, row_key: str, **kw: Any) -> Any: ...

    def query_entities(self, query_filter: str, **kw: Any) -> Any: ...

    def create_entity(self, entity: dict[str, Any], **kw: Any) -> Any: ...

    def upsert_entity(self, entity: dict[str, Any], **kw: Any) -> Any: ...

    def update_entity(self, entity: dict[str, Any], **kw: Any) -> Any: ...

    def delete_entity(self, partition_key: str, row_key: str, **kw: Any) -> Any: ...

    def submit_transaction(self, operations: Sequence[Any], **kw: Any) -> Any: ...


class JobStore(Protocol):
    def create(self, job: Job) -> Job | None:
        """Insert the job; None if a job with its id already exists (create-if-absent)."""

    def get(self, job_id: str) -> Job | None: ...

    def save(self, job: Job, release: bool = False) -> Job:
        """Write what changed if nobody wrote since it was read (or since this worker's last
        write under its lease); raises Conflict otherwise. `release` gives up the lease."""

    def claim(self, job: Job, lease: LeaseState) -> Job | None:
        """Take the lease if the lease row is as `job` read it; None otherwise."""

    def renew(self, job_id: str, lease: LeaseState) -> bool:
        """Extend a held lease; False when it was lost."""

    def request_stop(self, job_id: str, reason: StopReason, detail: str) -> bool:
        """Ask the job's worker to stop it; False when a stop was already asked for."""

    def request_retry(self, job_id: str, detail: str) -> bool:
        """Ask the worker of a finished job to retry its failed requests; False when a retry
        is already pending. The job goes back into the open index, so the poller sees it."""

    def list_jobs(
        self,
        limit: int,
        statuses: frozenset[JobStatus] | None = None,
        prefix: str | None = None,
        after: str | None = None,
    ) -> ListPage:
        """Jobs newest first, `limit` at a time from the continuation token `after`."""

    def versions(self, container: str, name: str) -> list[tuple[str, datetime | None]]:
        """Every recorded version of an input name: (job id, when that version was written)."""

    def note_touch(self, job: Job, same_as: str) -> None:
        """Record `job`'s blob version as known without a job of its own: its content is job
        `same_as`'s input with only metadata or properties changed (intake/receive.py)."""

    def open_job_ids(self) -> Iterator[str]:
        """Ids of jobs that may still need work (a stale id is possible: get() tells)."""

    def forget(self, job_id: str) -> None:
        """Drop a finished job from the open index."""

    def open_jobs(self) -> Iterator[Job]: ...

    def all_jobs(self) -> Iterator[Job]: ...
