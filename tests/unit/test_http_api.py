"""The HTTP API's use cases with the fakes: parameters checked with a clear 400, pages newest
first with a continuation token, the detail view's requests and outputs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared import http_api
from shared.jobs.model import Job, JobStatus, StopReason
from tests.fakes import make_deps


def recorded(deps, count: int) -> list[Job]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    jobs = [
        deps.store.create(
            replace(Job.new("in", f"x/{n}.jsonl", "e"), created_at=start + timedelta(hours=n))
        )
        for n in range(count)
    ]
    return jobs[::-1]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "done"}, "unknown status 'done': use open or one of received, "),
        ({"limit": "0"}, "limit must be a whole number from 1 to 200"),
        ({"limit": "201"}, "from 1 to 200"),
        ({"limit": "ten"}, "from 1 to 200"),
        ({"limit": "-1"}, "from 1 to 200"),
        ({"limit": ""}, "from 1 to 200"),
        ({"limit": "9" * 5000}, "limit must be a whole number from 1 to 200"),
        ({"limit": "²"}, "from 1 to 200"),
        ({"status": ""}, "unknown status '': use open or one of received, "),
        ({"next": "garbage"}, "continuation token is not one this API gave out"),
        ({"prefix": "a\x01"}, "without control characters"),
        ({"prefix": "x" * 1025}, "at most 1024 characters"),
    ],
)
def test_bad_parameters_are_refused_with_what_to_do(params, message):
    with pytest.raises(http_api.BadRequest, match=message.replace("(", r"\(")):
        http_api.list_jobs(make_deps(), params)


def test_pages_are_newest_first_and_the_token_leads_on():
    deps = make_deps()
    jobs = recorded(deps, 5)
    first = http_api.list_jobs(deps, {"limit": "2"})
    assert [j["job_id"] for j in first["jobs"]] == [j.job_id for j in jobs[:2]]
    rest = http_api.list_jobs(deps, {"limit": "5", "next": first["next"]})
    assert [j["job_id"] for j in rest["jobs"]] == [j.job_id for j in jobs[2:]]
    assert rest["next"] is None
    view = first["jobs"][0]
    assert view["output"] == {"container": "batch-output", "folder": "x/4"}
    assert (view["status"], view["batch_count"], view["last_error"]) == ("received", 0, None)


def test_open_means_not_finished_and_a_prefix_narrows():
    deps = make_deps()
    jobs = recorded(deps, 3)
    deps.store.save(jobs[0].moved_to(JobStatus.REJECTED, cleaned=True))
    listed = http_api.list_jobs(deps, {"status": "open"})["jobs"]
    assert [j["job_id"] for j in listed] == [j.job_id for j in jobs[1:]]
    assert [j["input"]["name"] for j in http_api.list_jobs(deps, {"prefix": "x/1"})["jobs"]] == [
        "x/1.jsonl"
    ]
    assert http_api.list_jobs(deps, {"status": "rejected"})["jobs"][0]["job_id"] == jobs[0].job_id


def test_the_detail_shows_pending_requests_and_the_output_folder():
    deps = make_deps()
    [job] = recorded(deps, 1)
    deps.store.request_stop(job.job_id, StopReason.CANCEL, "by a test")
    deps.output.upload_blob("x/0/summary.json", b"{}")
    view = http_api.get_job(deps, job.job_id)
    assert view["stop"]["reason"] == "cancel" and view["stop"]["detail"] == "by a test"
    assert view["retry"] is None
    assert view["output"] == {
        "container": "batch-output",
        "folder": "x/0",
        "owner": None,
        "files": {"summary.json": 2},
    }
    assert http_api.get_job(deps, "nope") is None
    answer = http_api.cancel_job(deps, job.job_id)
    assert answer["requested"] is False and answer["message"].startswith("Already pending")
