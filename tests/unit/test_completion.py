"""Completion with the Protocol fakes: the queue entry's guards, the lease, a full merge into
outputs, a retry round, and clean-up."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson
import pytest

from shared.completion import Busy, complete_job
from shared.jobs.lease import claim
from shared.jobs.meta import JobMeta
from shared.jobs.model import Job, JobStatus, Part
from shared.storage.names import JOB_META, WORK_INDEX, output_prefix, part_file, work_prefix
from tests.fakes import FakeService, make_deps

URL = "/v1/chat/completions"


class Answers(FakeService):
    """A service whose output files hold the given lines."""

    def __init__(self, files: dict[str, list[dict]]) -> None:
        super().__init__()
        self.files = files

    def download(self, file_id: str, dest: Path) -> None:
        dest.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in self.files.get(file_id, [])))


def answer(custom_id: str, status: int = 200, text: str = "ok") -> dict:
    body = {"choices": [{"message": {"content": text}}], "usage": {"total_tokens": 3}}
    if status != 200:
        body = {"error": {"code": "server_error", "message": "boom"}}
    return {"custom_id": custom_id, "response": {"status_code": status, "body": body}}


def completing_job(deps, ids: list[str], **part_fields) -> Job:
    prefix = work_prefix(Job.new("in", "q.jsonl", "e").job_id)
    index = b"".join(
        orjson.dumps({"line": n, "custom_id": c, "part": 0, "request": {"model": "dep"}}) + b"\n"
        for n, c in enumerate(ids, 1)
    )
    deps.work.upload_blob(prefix + WORK_INDEX, index)
    deps.work.upload_blob(prefix + JOB_META, JobMeta().to_json())
    fields = {"remote_status": "completed", "output_file_id": "out-0", "file_id": "in-0"}
    part = Part(0, "dep", URL, len(ids), batch_id="b0", **{**fields, **part_fields})
    job = replace(Job.new("in", "q.jsonl", "e"), status=JobStatus.COMPLETING, parts=(part,))
    return deps.store.create(replace(job, total=len(ids)))


def outputs(deps, job) -> dict[str, bytes]:
    prefix = output_prefix(job.name) + "/"
    return {
        b.name[len(prefix) :]: deps.output.blobs[b.name] for b in deps.output.list_blobs(prefix)
    }


def test_nothing_to_complete_for_an_unknown_or_finished_job():
    deps = make_deps()
    assert complete_job(deps, "nope") is None
    job = completing_job(deps, ["a"])
    done = deps.store.save(job.moved_to(JobStatus.COMPLETED))
    assert complete_job(deps, job.job_id) == done


def test_a_job_held_elsewhere_asks_the_queue_to_deliver_again():
    deps = make_deps(Answers({}))
    job = completing_job(deps, ["a"])
    assert claim(deps.store, job, 60, 0) is not None
    with pytest.raises(Busy):
        complete_job(deps, job.job_id)


def test_a_failed_merge_releases_the_lease_at_once():
    deps = make_deps(Answers({"out-0": [answer("a")]}))
    job = completing_job(deps, ["a"])
    deps.work.fail_downloads = True
    with pytest.raises(OSError):
        complete_job(deps, job.job_id)
    stored = deps.store.get(job.job_id)
    assert not stored.lease.owner and stored.status == JobStatus.COMPLETING


def test_answers_are_merged_in_input_order_and_the_job_closed():
    deps = make_deps(Answers({"out-0": [answer("b", text="B"), answer("a", text="A")]}))
    job = completing_job(deps, ["a", "b"])
    done = complete_job(deps, job.job_id)
    assert done.status == JobStatus.COMPLETED and done.cleaned and done.succeeded == 2
    files = outputs(deps, job)
    rows = [orjson.loads(line) for line in files["results.jsonl"].splitlines()]
    assert [(r["custom_id"], r["status"]) for r in rows] == [("a", "succeeded"), ("b", "succeeded")]
    assert orjson.loads(files["summary.json"])["usage"]["total_tokens"] == 6
    assert {"in-0", "out-0"} <= set(deps.service.deleted)
    assert list(deps.work.list_blobs(work_prefix(job.job_id))) == []


def test_retryable_failures_go_out_again_in_a_new_round():
    deps = make_deps(Answers({"out-0": [answer("a"), answer("b", status=500)]}))
    job = completing_job(deps, ["a", "b"])
    again = complete_job(deps, job.job_id)
    assert again.status == JobStatus.SUBMITTING and not again.lease.owner
    new = again.parts[1]
    assert (new.index, new.round, new.count) == (1, 2, 1)
    retry = deps.work.blobs[work_prefix(job.job_id) + part_file(1)]
    assert orjson.loads(retry)["custom_id"] == "b"
    assert outputs(deps, job) == {}  # nothing published before the last round
