"""The listing index against Azurite and the in-memory fake: newest first across month
partitions, paging with continuation tokens, status and name filters that follow status changes
(also after a lost index write, or a late one), retry requests and rows dropped with a save."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.data.tables import TableServiceClient

from shared.jobs import entities, listing
from shared.jobs.model import Job, JobStatus, StopReason
from shared.jobs.store import TableJobStore
from tests.fakes import FakeTable

START = datetime(2025, 11, 30, 23, 0, tzinfo=UTC)


class Flaky:
    """A table whose listing-row writes fail while `down` (a crash between two writes)."""

    def __init__(self, table: Any) -> None:
        self.table, self.down = table, False

    def __getattr__(self, name: str) -> Any:
        call = getattr(self.table, name)
        if name not in ("create_entity", "update_entity", "upsert_entity"):
            return call

        def guarded(entity: dict[str, Any], **kw: Any) -> Any:
            if self.down and entity["PartitionKey"].startswith(listing.LIST_PREFIX):
                raise HttpResponseError("injected: the listing write is lost")
            return call(entity, **kw)

        return guarded


@pytest.fixture(params=["azurite", "fake"])
def table(request):
    if request.param == "fake":
        return Flaky(FakeTable())
    azurite = request.getfixturevalue("azurite")
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    return Flaky(service.create_table(f"t{uuid.uuid4().hex[:12]}"))


def jobs_over_months(store: TableJobStore, count: int) -> list[Job]:
    """Jobs 12 days apart, across a year end, created out of order."""
    made = []
    for n in reversed(range(count)):
        created = START + timedelta(days=12 * n)
        job = replace(Job.new("in", f"dir/{n:02d}.jsonl", "e"), created_at=created)
        made.append(store.create(job))
    return sorted(made, key=lambda j: j.created_at, reverse=True)


def all_pages(store: TableJobStore, limit: int, **filters: Any) -> list[list[str]]:
    pages, after = [], None
    while True:
        page = store.list_jobs(limit, after=after, **filters)
        pages.append([j.job_id for j in page.jobs])
        if page.next is None:
            return pages
        after = page.next


def test_jobs_are_listed_newest_first_across_months_page_by_page(table):
    store = TableJobStore(table)
    jobs = jobs_over_months(store, 7)
    assert {listing.listing_keys(j.job_id, j.created_at)[0] for j in jobs} == {
        "list-797488",  # 2025-11
        "list-797487",  # 2025-12
        "list-797398",  # 2026-01
        "list-797397",  # 2026-02
    }
    pages = all_pages(store, 3)
    assert pages == [[j.job_id for j in jobs[i : i + 3]] for i in (0, 3, 6)]
    one = store.list_jobs(1).jobs[0]
    assert (one.name, one.status, one.container) == ("dir/06.jsonl", JobStatus.RECEIVED, "in")


def test_filters_by_status_and_name_prefix_follow_status_changes(table):
    store = TableJobStore(table)
    jobs = jobs_over_months(store, 4)
    moved = store.save(jobs[1].moved_to(JobStatus.SUBMITTING))
    store.save(moved.moved_to(JobStatus.IN_PROGRESS))
    submitting = frozenset({JobStatus.SUBMITTING})
    in_progress = frozenset({JobStatus.IN_PROGRESS})
    assert all_pages(store, 2, statuses=submitting) == [[]]
    assert all_pages(store, 2, statuses=in_progress) == [[jobs[1].job_id]]
    received = [[jobs[0].job_id, jobs[2].job_id], [jobs[3].job_id]]
    assert all_pages(store, 2, statuses=frozenset({JobStatus.RECEIVED})) == received
    assert all_pages(store, 5, prefix="dir/0") == [[j.job_id for j in jobs]]
    assert all_pages(store, 5, prefix="dir/02") == [[jobs[1].job_id]]
    assert all_pages(store, 5, prefix="dir/1") == [[]]


def test_a_lost_index_write_never_lists_a_job_under_a_status_it_left_and_is_repaired(table):
    store = TableJobStore(table)
    [job] = jobs_over_months(store, 1)
    table.down = True
    moved = store.save(job.moved_to(JobStatus.SUBMITTING))  # the job's write stands
    table.down = False
    assert store.get(job.job_id).status == JobStatus.SUBMITTING
    assert store.list_jobs(10, frozenset({JobStatus.RECEIVED})).jobs == []  # checked, dropped
    # The job row knows the index lags: its next save, whatever it changes, repairs it.
    fresh = store.get(job.job_id)
    assert fresh.listed_seq < fresh.status_seq
    store.save(replace(moved, lease=fresh.lease).changed(last_error="x"))
    listed = store.list_jobs(10, frozenset({JobStatus.SUBMITTING})).jobs
    assert [j.job_id for j in listed] == [job.job_id]


def test_a_late_index_write_never_puts_back_an_older_status(table):
    store = TableJobStore(table)
    [job] = jobs_over_months(store, 1)
    older = job.moved_to(JobStatus.SUBMITTING)
    newer = store.save(store.save(older).moved_to(JobStatus.IN_PROGRESS))
    listing.write_listing(table, older)  # a slow writer arrives after the newer status
    pk, rk = listing.listing_keys(job.job_id, job.created_at)
    row = table.get_entity(pk, rk)
    assert (row["Status"], row["Seq"]) == ("in_progress", newer.status_seq)


def test_tokens_and_prefixes_are_checked():
    token = listing.encode_token("list-797373", f"{1:017d}-{'a' * 40}")
    assert listing.decode_token(token) == ("list-797373", f"{1:017d}-{'a' * 40}")
    for bad in ("nope", "", token[:-2], listing.encode_token("list-1", "x")):
        with pytest.raises(ValueError, match="continuation token"):
            listing.decode_token(bad)
    with pytest.raises(ValueError, match="control characters"):
        listing.check_prefix("a\x00b")
    with pytest.raises(ValueError, match="from 1 to 200"):
        listing.check_limit(0)
    assert listing._successor("ab\U0010ffff") == "ac"
    assert listing._successor("\U0010ffff") is None
    assert listing._successor("a\ud7ff") == "a\ue000"


def test_a_retry_request_is_create_if_absent_and_reopens_the_index(table):
    store = TableJobStore(table)
    [job] = jobs_over_months(store, 1)
    done = store.save(job.moved_to(JobStatus.SUBMITTING).changed(cleaned=True))
    done = store.save(replace(done, status=JobStatus.FAILED))
    assert job.job_id not in set(store.open_job_ids())
    assert store.request_retry(job.job_id, "asked by a test") is True
    assert store.request_retry(job.job_id, "asked again") is False
    found = store.get(job.job_id)
    assert found.retry is not None and found.retry.detail == "asked by a test"
    assert found.is_open and job.job_id in set(store.open_job_ids())


def test_applied_requests_are_dropped_in_the_same_write(table):
    store = TableJobStore(table)
    [job] = jobs_over_months(store, 1)
    store.request_stop(job.job_id, StopReason.CANCEL, "stop it")
    store.request_retry(job.job_id, "retry it")
    current = store.get(job.job_id)
    applied = replace(current, stop=None, retry=None, drop_rows=(entities.STOP_ROW, "retry"))
    saved = store.save(applied.changed(last_error="applied"))
    assert saved.drop_rows == ()
    again = store.get(job.job_id)
    assert (again.stop, again.retry, again.last_error) == (None, None, "applied")
    assert store.request_stop(job.job_id, StopReason.CANCEL, "a new one") is True
