"""The job table against Azurite: create-if-absent, conditional writes, leases, open jobs."""

import uuid

import pytest
from azure.data.tables import TableServiceClient

from shared.jobs.lease import claim
from shared.jobs.model import Job, JobStatus
from shared.jobs.store import Conflict, TableJobStore, from_entity, to_entity


@pytest.fixture
def store(azurite):
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    table = service.create_table(f"t{uuid.uuid4().hex[:12]}")
    return TableJobStore(table)


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


def test_only_one_worker_gets_the_lease(store):
    job = store.create(Job.new("c", "n", "e"))
    assert claim(store, job, 60) is not None
    assert claim(store, job, 60) is None  # stale copy: 412
    assert claim(store, store.get(job.job_id), 60) is None  # fresh copy: lease still held


def test_open_jobs_skip_finished_and_cleaned_ones(store):
    open_job = store.create(Job.new("c", "open", "e"))
    done = store.create(Job.new("c", "done", "e"))
    store.save(done.moved_to(JobStatus.REJECTED, cleaned=True))
    assert [j.job_id for j in store.open_jobs()] == [open_job.job_id]


def test_entity_round_trip_keeps_everything_but_is_readable():
    job = Job.new("c", "n", "e").changed(warnings=("w",), last_error="boom")
    entity = to_entity(job)
    assert entity["Status"] == "received" and entity["BlobName"] == "n"

    class Entity(dict):
        metadata = {"etag": "W/1"}

    back = from_entity(Entity(entity))
    assert back.warnings == ("w",) and back.last_error == "boom" and back.row_etag == "W/1"
    assert back.created_at == job.created_at


def test_open_index_is_repaired_by_a_repeated_event_and_pruned_when_closed(store):
    job = store.create(Job.new("c", "n", "e"))
    store.forget(job.job_id)  # as if a crash came between the row and its index entry
    assert list(store.open_job_ids()) == []
    assert store.create(Job.new("c", "n", "e")) is None  # the repeated event
    assert list(store.open_job_ids()) == [job.job_id]
    store.save(job.moved_to(JobStatus.REJECTED, cleaned=True))
    assert list(store.open_job_ids()) == []


def test_open_ids_are_read_past_the_first_page(store):
    """F15: more than 1,000 open jobs need the continuation token; none may be missed."""
    from concurrent.futures import ThreadPoolExecutor

    ids = [f"{i:040d}" for i in range(1005)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(store._index, ids))
    assert sorted(store.open_job_ids()) == ids
