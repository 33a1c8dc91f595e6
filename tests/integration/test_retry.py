"""A person's retry end to end, through the registered functions, the HTTP API, Azurite and
the emulator: the failed requests of a finished job go again and their new answers are merged
into the same results (JSON Lines and CSV) in input order, attempts counted on; a cancelled job
is retried to completion; a job whose input was replaced is refused (the newest upload wins)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from shared.storage.names import output_prefix
from tests.conftest import files_left, jsonl, read_jsonl, run_until
from tests.integration.test_flow import chat, drop_and_finish, jobs, output, upload


@pytest.fixture
def api(host) -> Iterator[str]:
    from devtools.host.http import serve

    server = serve(host.app, port=0)
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()


@pytest.fixture
def faults(emulator):
    yield emulator.set_faults
    emulator.clear_faults()


def post(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="POST")) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_failed_rows_of_a_csv_go_again_and_merge_into_the_same_outputs(
    app_env, host, emulator, faults, api
):
    app_env()
    deps = default_deps()
    tag = uuid.uuid4().hex[:8]
    # A 400 is not retried by itself; the emulator fails each of these once only.
    faults(
        [{"kind": "line_failure", "custom_id": f"^{tag}-(1|3)$", "status_code": 400, "attempts": 1}]
    )
    rows = "custom_id,prompt,city\n" + "".join(f"{tag}-{i},Describe {i},C{i}\n" for i in range(5))
    name = "retry/cities.csv"
    folder = output_prefix(name)
    first = drop_and_finish(host, deps, name, rows.encode(), folder)
    assert first["status"] == "completed" and first["counts"]["failed"] == 2
    before = output(deps, f"{folder}/results.jsonl").splitlines()
    [job] = jobs(deps)

    status, body = post(f"{api}/jobs/{job.job_id}/retry")
    assert status == 202 and body["requested"] is True and body["job"]["retry"] is not None
    status, body = post(f"{api}/jobs/{job.job_id}/retry")
    assert status == 200 and body["requested"] is False and "Already pending" in body["message"]
    run_until(host, lambda: jobs(deps)[0].first_part == 1 and jobs(deps)[0].cleaned, 30)

    [done] = jobs(deps)
    assert (done.status, done.succeeded, done.failed) == (JobStatus.COMPLETED, 5, 0)
    after = output(deps, f"{folder}/results.jsonl").splitlines()
    assert [after[i] == before[i] for i in range(5)] == [True, False, True, False, True]
    results = [orjson.loads(x) for x in after]
    assert [r["custom_id"] for r in results] == [f"{tag}-{i}" for i in range(5)]
    assert [r["attempts"] for r in results] == [1, 2, 1, 2, 1]
    assert all(r["status"] == "succeeded" and r["input"]["city"] for r in results)
    csv_rows = output(deps, f"{folder}/results.csv").decode("utf-8-sig").splitlines()
    assert len(csv_rows) == 6 and all(",succeeded," in r for r in csv_rows[1:])
    summary = orjson.loads(output(deps, f"{folder}/summary.json"))
    assert summary["counts"] == {"total": 5, "succeeded": 5, "failed": 0}
    assert [b["round"] for b in summary["batches"]] == [1, 2]
    assert output(deps, f"{folder}/errors.jsonl") == b""
    assert files_left(emulator, job.job_id) == []  # I6, for both runs
    assert list(deps.work.list_blobs(name_starts_with=job.job_id)) == []


def test_a_cancelled_job_is_retried_to_completion(app_env, host, faults, api):
    app_env()
    deps = default_deps()
    ids = [f"cancel-retry-{i}" for i in range(4)]
    # No quota: the batch waits, so the cancel comes before anything runs.
    faults([{"kind": "token_limit_exceeded", "stage": "create", "times": None}])
    upload(deps, "again.jsonl", jsonl([chat(c, "x") for c in ids]))
    host.deliver_new_blobs()
    [job] = jobs(deps)
    assert job.status in (JobStatus.SUBMITTING, JobStatus.WAITING) and not job.batch_ids
    assert post(f"{api}/jobs/{job.job_id}/cancel")[0] == 202
    run_until(host, lambda: jobs(deps)[0].cleaned)
    cancelled = jobs(deps)[0]
    assert (cancelled.status, cancelled.failed) == (JobStatus.CANCELLED, 4)
    status, body = post(f"{api}/jobs/{job.job_id}/cancel")
    assert status == 409 and "only received, submitting" in body["error"]
    faults([])
    assert post(f"{api}/jobs/{job.job_id}/retry")[0] == 202
    run_until(host, lambda: jobs(deps)[0].first_part > 0 and jobs(deps)[0].cleaned, 30)
    [done] = jobs(deps)
    assert done.status == JobStatus.COMPLETED and done.failed == 0 and done.stop is None
    results = read_jsonl(output(deps, "again/results.jsonl"))
    assert [r["custom_id"] for r in results] == ids
    assert all(r["status"] == "succeeded" and r["attempts"] == 2 for r in results)


def test_a_job_whose_input_was_replaced_is_not_retried(app_env, host, faults, api):
    app_env()
    deps = default_deps()
    faults([{"kind": "line_failure", "custom_id": "^replaced-1$", "status_code": 400}])
    lines = jsonl([chat("replaced-1", "x")])
    drop_and_finish(host, deps, "replaced.jsonl", lines, "replaced")
    [old] = jobs(deps)
    assert old.failed == 1
    upload(deps, "replaced.jsonl", jsonl([chat("replaced-2", "y")]))  # a newer upload
    status, body = post(f"{api}/jobs/{old.job_id}/retry")
    assert status == 409 and "the newest upload wins" in body["error"]
    assert deps.store.get(old.job_id).retry is None
