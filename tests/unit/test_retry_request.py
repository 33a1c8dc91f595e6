"""A person's retry of a finished job, with the Protocol fakes: asked beside the job (never over
it), applied by the job's worker through the poll tick, the failed requests sent again in a new
round rebuilt from results.jsonl, their new outcomes merged into the same results in input
order with attempts counted on; and every reason it is refused, when asked and when applied."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from shared.batches.service import RemoteBatch
from shared.completion import complete_job
from shared.intake.receive import record_job
from shared.jobs.meta import JobMeta
from shared.jobs.model import ALERT, Job, JobStatus, Part, StopReason
from shared.lifecycle.give_up import give_up
from shared.lifecycle.operator import NotAllowed, ask_cancel, ask_retry
from shared.lifecycle.reopen import Storage
from shared.poll import poll_all
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


def answer(custom_id: str, text: str = "ok", status: int = 200) -> dict:
    body = {"choices": [{"message": {"content": text}}], "usage": {"total_tokens": 3}}
    if status != 200:  # not retried by itself: a 400 the request's author must fix
        body = {"error": {"code": "invalid_request", "message": "bad"}}
    return {"custom_id": custom_id, "response": {"status_code": status, "body": body}}


def finished(deps, outcomes: list[dict], stop: StopReason | None = None) -> Job:
    """A job run to its end: work files, one completed batch with `outcomes`, completion."""
    job = Job.new("in", "dir/q.jsonl", "e")
    prefix = work_prefix(job.job_id)
    index = b"".join(
        orjson.dumps({"line": n, "custom_id": o["custom_id"], "part": 0, "request": REQUEST})
        + b"\n"
        for n, o in enumerate(outcomes, 1)
    )
    deps.work.upload_blob(prefix + WORK_INDEX, index)
    deps.work.upload_blob(prefix + JOB_META, JobMeta().to_json())
    deps.service.files["out-0"] = outcomes
    done = {"remote_status": "completed", "output_file_id": "out-0", "file_id": "in-0"}
    part = Part(0, "dep", URL, len(outcomes), batch_id="b0", **done)
    job = replace(job, status=JobStatus.COMPLETING, parts=(part,), total=len(outcomes))
    deps.store.create(job)
    if stop is not None:
        deps.store.request_stop(job.job_id, stop, "asked")
    return complete_job(deps, job.job_id)


REQUEST = {"model": "dep", "messages": [{"role": "user", "content": "hi"}]}


def results(deps, job: Job) -> list[bytes]:
    return deps.output.blobs[f"{output_prefix(job.name)}/results.jsonl"].splitlines()


def run_new_round(deps, job: Job, outcomes: list[dict]) -> Job:
    """The poller reopens the job and sends the round; its batch ends with `outcomes`."""
    poll_all(deps)
    reopened = deps.store.get(job.job_id)
    new = reopened.parts[-1]
    deps.service.files["out-new"] = outcomes
    ended = RemoteBatch(new.batch_id, "completed", total=new.count, output_file_id="out-new")
    deps.service.batches[new.batch_id] = ended
    poll_all(deps)
    return complete_job(deps, job.job_id)


def test_failed_requests_go_again_and_merge_into_the_same_results_in_input_order():
    deps = make_deps(Answers({}))
    job = finished(deps, [answer("a", "A"), answer("b", status=400), answer("c", "C")])
    assert (job.status, job.failed, job.cleaned) == (JobStatus.COMPLETED, 1, True)
    before = results(deps, job)
    # Clean-up kept job.json (the input's shape), which the retry needs; nothing else.
    assert [b.name for b in deps.work.list_blobs(work_prefix(job.job_id))] == [
        work_prefix(job.job_id) + JOB_META
    ]
    asked = ask_retry(Storage.of(deps), job.job_id, "test")
    assert asked.requested and "1 failed request" in asked.message
    assert deps.store.get(job.job_id).row_etag == job.row_etag  # the job row is not written
    assert ask_retry(Storage.of(deps), job.job_id, "again").requested is False

    done = run_new_round(deps, job, [answer("b", "B")])
    assert (done.status, done.succeeded, done.failed, done.first_part) == ("completed", 3, 0, 1)
    after = results(deps, job)
    assert after[0] == before[0] and after[2] == before[2]  # kept byte for byte
    retried = orjson.loads(after[1])
    assert (retried["custom_id"], retried["status"], retried["attempts"]) == ("b", "succeeded", 2)
    summary = orjson.loads(deps.output.blobs[f"{output_prefix(job.name)}/summary.json"])
    assert summary["counts"] == {"total": 3, "succeeded": 3, "failed": 0}
    assert [(b["part"], b["round"]) for b in summary["batches"]] == [(0, 1), (1, 2)]
    assert any(w.startswith("Retried on request") for w in summary["warnings"])
    assert deps.output.blobs[f"{output_prefix(job.name)}/errors.jsonl"] == b""
    assert list(deps.work.list_blobs(work_prefix(job.job_id))) == []  # nothing failed: all go
    assert done.retry is None and not done.is_open


def test_the_new_round_holds_only_the_failed_requests_and_the_index_keeps_the_rest():
    deps = make_deps(Answers({}))
    job = finished(deps, [answer("a"), answer("b", status=400), answer("c", status=400)])
    ask_retry(Storage.of(deps), job.job_id, "test")
    poll_all(deps)
    reopened = deps.store.get(job.job_id)
    assert reopened.status in (JobStatus.SUBMITTING, JobStatus.IN_PROGRESS)
    assert (reopened.first_part, reopened.cleaned, reopened.retry) == (1, False, None)
    assert [(p.index, p.round, p.count) for p in reopened.parts] == [(0, 1, 3), (1, 2, 2)]
    prefix = work_prefix(job.job_id)
    sent = [orjson.loads(x)["custom_id"] for x in deps.work.blobs[prefix + part_file(1)].split()]
    assert sent == ["b", "c"]
    index = [orjson.loads(x) for x in deps.work.blobs[prefix + WORK_INDEX].splitlines()]
    assert [("kept" in r, r.get("part"), r.get("attempts_before")) for r in index] == [
        (True, None, None),
        (False, 1, 1),
        (False, 1, 1),
    ]
    listed = deps.store.list_jobs(5).jobs[0]
    assert listed.status == reopened.status  # the listing follows the reopened job


def test_a_cancelled_job_is_retried_without_its_cancel():
    deps = make_deps(Answers({}))
    job = finished(deps, [answer("a"), answer("b", status=400)], stop=StopReason.CANCEL)
    assert job.status == JobStatus.CANCELLED
    assert ask_retry(Storage.of(deps), job.job_id, "test").requested
    done = run_new_round(deps, job, [answer("b")])
    assert done.status == JobStatus.COMPLETED and done.stop is None


@pytest.mark.parametrize("case", ["open", "all_good", "no_results", "no_meta", "other_owner"])
def test_refused_when_asked_with_the_reason(case):
    deps = make_deps(Answers({}))
    outcomes = [answer("a"), answer("b", status=200 if case == "all_good" else 400)]
    job = finished(deps, outcomes)
    folder = output_prefix(job.name)
    if case == "open":
        job = deps.store.create(Job.new("in", "other.jsonl", "e"))
    if case == "no_results":
        deps.output.delete_blob(f"{folder}/results.jsonl")
    if case == "no_meta":
        deps.work.delete_blob(work_prefix(job.job_id) + JOB_META)
    if case == "other_owner":
        deps.output.upload_blob(f"{folder}/.batchdrop-owner.json", b'{"job_id": "someone"}')
    expected = {
        "open": "only a finished job",
        "all_good": "nothing to retry",
        "no_results": "upload the file again",
        "no_meta": "job.json was removed",
        "other_owner": "no longer in",
    }[case]
    with pytest.raises(NotAllowed, match=expected):
        ask_retry(Storage.of(deps), job.job_id, "test")
    assert deps.store.get(job.job_id).retry is None


def test_a_newer_upload_wins_when_asked_and_when_applied():
    deps = make_deps(Answers({}))
    job = finished(deps, [answer("a", status=400)])
    inputs = deps.blobs.get_container_client("in")
    inputs.upload_blob(job.name, b"newer")  # replaced, its event not yet seen
    with pytest.raises(NotAllowed, match="newest upload wins"):
        ask_retry(Storage.of(deps), job.job_id, "test")
    inputs.delete_blob(job.name)
    # Asked (the CLI or HTTP check passed), then a newer version is recorded before the
    # worker applies it: the worker refuses it and says why.
    assert deps.store.request_retry(job.job_id, "test")
    newer = record_job(deps, "in", job.name, "e2", None)
    assert newer is not None
    poll_all(deps)
    kept = deps.store.get(job.job_id)
    assert kept.status == JobStatus.COMPLETED and kept.retry is None and not kept.is_open
    assert kept.last_error.startswith("Retry refused: A newer upload")
    assert newer.job_id in kept.last_error and "newest upload wins" in kept.last_error


def test_a_retry_that_keeps_failing_is_dropped_with_its_reason():
    deps = make_deps(Answers({}), BATCH_MAX_STEP_FAILURES="2")
    job = finished(deps, [answer("a", status=400)])
    ask_retry(Storage.of(deps), job.job_id, "test")
    deps.output.fail_downloads = True  # results.jsonl cannot be read
    for _ in range(3):
        poll_all(deps)
    kept = deps.store.get(job.job_id)
    assert kept.status == JobStatus.COMPLETED and kept.retry is None
    assert kept.last_error.startswith("Retry refused: it failed 2 times in a row")


def test_giving_up_on_a_retried_job_keeps_the_results_it_started_from():
    deps = make_deps(Answers({}))
    job = finished(deps, [answer("a"), answer("b", status=400)])
    before = dict(deps.output.blobs)
    ask_retry(Storage.of(deps), job.job_id, "test")
    poll_all(deps)
    reopened = deps.store.get(job.job_id)
    failed = give_up(deps, reopened.changed(step_failures=5, last_error="boom"))
    assert failed.status == JobStatus.FAILED and "before the retry" in failed.last_error
    assert {k: v for k, v in deps.output.blobs.items() if "owner" not in k} == {
        k: v for k, v in before.items() if "owner" not in k
    }


def test_a_second_cancel_says_one_is_pending_and_a_finished_job_refuses():
    deps = make_deps(Answers({}))
    job = deps.store.create(Job.new("in", "live.jsonl", "e"))
    first = ask_cancel(deps.store, job.job_id, "test")
    second = ask_cancel(deps.store, job.job_id, "test")
    assert first.requested and not second.requested
    assert "Already pending: a cancel" in second.message
    done = finished(deps, [answer("a")])
    with pytest.raises(NotAllowed, match="completed"):
        ask_cancel(deps.store, done.job_id, "test")
    assert ask_cancel(deps.store, "nope", "test") is None


def test_a_retried_job_counts_its_age_from_the_retry(caplog):
    deps = make_deps(Answers({}), BATCH_STUCK_HOURS="1")
    job = finished(deps, [answer("a", status=400)])
    stored = deps.store.get(job.job_id)
    deps.store.save(replace(stored, created_at=stored.created_at - timedelta(hours=3)))
    ask_retry(Storage.of(deps), job.job_id, "test")
    caplog.set_level(logging.ERROR)
    poll_all(deps)
    reopened = deps.store.get(job.job_id)
    assert not reopened.is_terminal and reopened.reopened_at is not None
    assert not [r for r in caplog.records if ALERT in r.getMessage()]  # not stuck: just reopened


def test_a_retry_asked_while_the_job_closes_is_not_lost():
    deps = make_deps(Answers({}))
    job = finished(deps, [answer("a", status=400)])
    closing = deps.store.get(job.job_id)  # read before the retry was asked
    assert deps.store.request_retry(job.job_id, "test")
    deps.store.save(closing.changed(cleaned=True))  # its save forgets the job: not the retry
    assert job.job_id in set(deps.store.open_job_ids())
    poll_all(deps)
    assert deps.store.get(job.job_id).first_part == 1
