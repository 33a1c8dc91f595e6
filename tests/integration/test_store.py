"""The job table against Azurite, and the in-memory fake against the same tests: create-if-
absent, conditional writes through the lease row, leases, stop requests, bounded values, jobs
of a thousand parts, the open-job and name indexes."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from azure.data.tables import TableServiceClient

from shared.jobs import entities
from shared.jobs.columns import MAX_COLUMN, units
from shared.jobs.lease import claim
from shared.jobs.model import Conflict, Job, JobStatus, StopReason
from shared.jobs.part import Part
from shared.jobs.store import TableJobStore
from tests.fakes import FakeTable

URL = "/v1/chat/completions"


@pytest.fixture(params=["azurite", "fake"])
def store(request):
    if request.param == "fake":
        return TableJobStore(FakeTable())
    azurite = request.getfixturevalue("azurite")
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    return TableJobStore(service.create_table(f"t{uuid.uuid4().hex[:12]}"))


def test_create_is_create_if_absent(store):
    job = Job.new("c", "a/b #?.jsonl", '"0x1"')
    first = store.create(job)
    assert first is not None and first.row_etag
    assert store.create(job) is None
    assert store.get(job.job_id).name == "a/b #?.jsonl"


def test_a_stale_copy_cannot_overwrite_a_newer_one(store):
    job = store.create(Job.new("c", "n", "e"))
    winner = store.save(job.moved_to(JobStatus.SUBMITTING))
    with pytest.raises(Conflict):
        store.save(job.moved_to(JobStatus.REJECTED))  # F14: the loser gets 412
    assert store.get(job.job_id).status == JobStatus.SUBMITTING
    assert store.save(winner.changed(last_error="x")).last_error == "x"


def test_only_one_worker_gets_the_lease_and_a_claim_stops_unleased_writers(store):
    job = store.create(Job.new("c", "n", "e"))
    reader = store.get(job.job_id)
    held = claim(store, job, 60, 0)
    assert held is not None and held.lease.mine
    assert claim(store, job, 60, 0) is None  # stale copy: 412
    assert claim(store, store.get(job.job_id), 60, 0) is None  # fresh copy: the lease is held
    with pytest.raises(Conflict):  # a copy read before the claim may no longer write
        store.save(reader.changed(last_error="too late"))
    saved = store.save(held.changed(last_error="mine"))
    released = store.save(saved, release=True)
    assert not released.lease.mine and not store.get(job.job_id).lease.owner
    assert claim(store, store.get(job.job_id), 60, 0) is not None


def test_renewal_extends_the_lease_and_fails_once_it_was_taken(store):
    job = store.create(Job.new("c", "n", "e"))
    held = claim(store, job, 1, 0)
    before, stale = held.lease.until, store.get(job.job_id)
    assert store.renew(job.job_id, held.lease) and held.lease.until > before
    stale.lease.until = datetime(2000, 1, 1, tzinfo=UTC)  # its copy says the lease ran out
    assert claim(store, stale, 60, 0) is None  # but the lease row moved on: 412
    stolen = store.get(job.job_id)
    stolen.lease.until = datetime(2000, 1, 1, tzinfo=UTC)  # as if it had run out long ago
    assert claim(store, stolen, 60, 0) is not None
    assert not store.renew(job.job_id, held.lease) and held.lease.lost


def test_a_stop_is_asked_for_once_beside_the_job_without_touching_it(store):
    job = store.create(Job.new("c", "n", "e"))
    assert store.request_stop(job.job_id, StopReason.CANCEL, "asked")
    assert not store.request_stop(job.job_id, StopReason.CANCEL, "again")
    seen = store.get(job.job_id)
    assert seen.stop.reason == StopReason.CANCEL and seen.stop.detail == "asked"
    assert store.save(job.changed(last_error="still mine")).last_error == "still mine"


def test_a_thousand_parts_are_saved_and_read_back(store):
    parts = tuple(Part(i, "dep", URL, 1) for i in range(1000))
    job = store.create(Job.new("c", "big", "e"))
    job = store.save(job.moved_to(JobStatus.SUBMITTING, parts=parts, total=1000))
    assert len(store.get(job.job_id).parts) == 1000
    live = tuple(replace(p, batch_id=f"b{p.index}", completed=1) for p in job.parts)
    job = store.save(job.changed(parts=live))
    back = store.get(job.job_id)
    assert [p.batch_id for p in back.parts] == [f"b{i}" for i in range(1000)]
    assert back.row_etag == job.row_etag


def test_a_field_set_back_to_nothing_is_saved_as_nothing(store):
    job = store.create(Job.new("c", "n", "e"))
    job = store.save(job.moved_to(JobStatus.SUBMITTING, parts=(Part(0, "d", URL, 1, file_id="f"),)))
    job = store.save(job.with_part(replace(job.parts[0], file_id=None, uploading="u")))
    assert store.get(job.job_id).parts[0].file_id is None


def test_user_supplied_values_are_cut_to_fit_the_table(store):
    weird = 'é\u0000\U0001f600"\\' * 7000  # 35,000 characters, escapes and astral ones
    part = Part(0, "d" * 33_000, URL, 1, errors=({"code": "x", "message": weird},) * 30)
    job = store.create(Job.new("c", "w" * 1000, "e"))
    job = store.save(
        job.moved_to(JobStatus.SUBMITTING, parts=(part,), warnings=(weird,) * 5, last_error=weird)
    )
    back = store.get(job.job_id)
    row = entities.job_entity(back)
    assert all(units(v) <= MAX_COLUMN for v in row.values() if isinstance(v, str))
    assert back.last_error.endswith("[cut]") and len(back.warnings) >= 1
    assert back.parts[0].deployment.endswith("[cut]")


def test_open_jobs_skip_finished_and_cleaned_ones(store):
    open_job = store.create(Job.new("c", "open", "e"))
    done = store.create(Job.new("c", "done", "e"))
    store.save(done.moved_to(JobStatus.REJECTED, cleaned=True))
    assert [j.job_id for j in store.open_jobs()] == [open_job.job_id]


def test_open_index_is_repaired_by_a_repeated_event_and_pruned_when_closed(store):
    job = store.create(Job.new("c", "n", "e"))
    store.forget(job.job_id)  # as if a crash came between the rows and the index entry
    assert list(store.open_job_ids()) == []
    assert store.create(Job.new("c", "n", "e")) is None  # the repeated event
    assert list(store.open_job_ids()) == [job.job_id]
    store.save(job.moved_to(JobStatus.REJECTED, cleaned=True))
    assert list(store.open_job_ids()) == []


def test_open_ids_are_read_past_the_first_page_across_partitions(store):
    """F15: more than 1,000 open jobs need the continuation token; none may be missed."""
    ids = [f"{i % 16:x}{i:039d}" for i in range(1005)]
    rows = [{"PartitionKey": entities.open_partition(i), "RowKey": i} for i in ids]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(store.table.upsert_entity, rows))
    assert sorted(store.open_job_ids()) == sorted(ids)


def test_versions_of_a_name_are_listed(store):
    first = store.create(Job.new("c", "same.jsonl", "e1", datetime(2026, 1, 1, tzinfo=UTC)))
    second = store.create(Job.new("c", "same.jsonl", "e2", datetime(2026, 1, 2, tzinfo=UTC)))
    store.create(Job.new("c", "other.jsonl", "e3"))
    found = dict(store.versions("c", "same.jsonl"))
    assert set(found) == {first.job_id, second.job_id}
    assert found[second.job_id] == datetime(2026, 1, 2, tzinfo=UTC)
