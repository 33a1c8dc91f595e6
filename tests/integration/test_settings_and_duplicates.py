"""A data file and its `_job.json` uploaded together (in any order), settings that change after a
file ran, and identical content uploaded again: through the registered functions."""

from __future__ import annotations

import threading
import time

import orjson
import pytest

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import jsonl, read_jsonl, run_until
from tests.integration.test_flow import jobs, output, summary_of, upload

SCHEMA = {
    "type": "object",
    "properties": {"country": {"type": "string"}},
    "required": ["country"],
    "additionalProperties": False,
}
SETTINGS = {"system": "Answer briefly.", "template": "Where is {city}?", "json_schema": SCHEMA}


@pytest.fixture
def faults(emulator):
    yield emulator.set_faults
    emulator.clear_faults()


def closed(deps, count: int, prefixes: list[str]):
    def done() -> bool:
        found = jobs(deps)
        return (
            len(found) == count
            and all(j.is_terminal and j.cleaned for j in found)
            and all(summary_of(deps, p) is not None for p in prefixes)
        )

    return done


def batches(emulator) -> int:
    return len(emulator.state()["batches"])


# --- a file and its settings ---------------------------------------------------------------------


def test_a_file_uploaded_just_before_its_job_json_gets_the_settings(app_env, host):
    app_env(BATCH_SETTLE_SECONDS="4")
    deps = default_deps()
    upload(deps, "team/cities.csv", b"city\nParis\nOslo\n")  # no prompt column: needs settings
    later = threading.Timer(1.0, upload, (deps, "team/_job.json", orjson.dumps(SETTINGS)))
    later.start()
    started = time.monotonic()
    host.deliver_blob("team/cities.csv")  # the event comes at once; the settings a second later
    later.join()
    assert time.monotonic() - started >= 2.5  # it waited for them
    run_until(host, closed(deps, 1, ["team/cities.csv"]))
    summary = summary_of(deps, "team/cities.csv")
    assert summary["status"] == "completed", summary
    assert summary["job_settings"]["name"] == "team/_job.json"
    assert summary["job_settings"]["etag"] and not summary["job_settings"]["etag"].startswith('"')
    [first, _] = read_jsonl(output(deps, "team/cities.csv/results.jsonl"))
    assert first["request"]["messages"][0] == {"role": "system", "content": "Answer briefly."}
    header = output(deps, "team/cities.csv/results.csv").decode("utf-8-sig").splitlines()[0]
    assert header.split(",")[3:5] == ["city", "country"]


def test_a_file_that_ran_before_its_settings_arrived_says_so(app_env, host):
    app_env()
    deps = default_deps()
    upload(deps, "late/q.jsonl", jsonl([{"prompt": "Capital of Peru?"}]))
    host.deliver_blob("late/q.jsonl")  # read at once: no settings yet
    upload(deps, "late/_job.json", orjson.dumps({"system": "Be brief."}))
    upload(deps, "late2/_job.json", orjson.dumps({"system": "Be brief."}))
    upload(deps, "late2/q.jsonl", jsonl([{"prompt": "Capital of Chile?"}]))
    host.deliver_blob("late2/q.jsonl")
    upload(deps, "late2/_job.json", orjson.dumps({"system": "Be very brief."}))  # changed since
    upload(deps, "fine/_job.json", orjson.dumps({"system": "Be brief."}))
    upload(deps, "fine/q.jsonl", jsonl([{"prompt": "Capital of Cuba?"}]))
    host.deliver_blob("fine/q.jsonl")
    run_until(host, closed(deps, 3, ["late/q", "late2/q", "fine/q"]))
    late, late2, fine = (summary_of(deps, p) for p in ("late/q", "late2/q", "fine/q"))
    assert late["job_settings"] is None
    [warning] = [w for w in late["warnings"] if "_job.json" in w]
    assert warning.startswith("This file ran without job settings, but late/_job.json")
    assert late2["job_settings"]["name"] == "late2/_job.json"
    assert any(w.startswith("This file ran with late2/_job.json (ETag") for w in late2["warnings"])
    assert not any("_job.json" in w for w in fine["warnings"])


# --- identical content ---------------------------------------------------------------------------


def test_identical_content_uploaded_again_is_not_sent_and_points_at_its_results(
    app_env, host, emulator
):
    app_env()
    deps = default_deps()
    data = jsonl([{"prompt": "Name a colour."}, {"prompt": "Name a bird."}])
    upload(deps, "dup/q.jsonl", data)
    host.deliver_new_blobs()
    run_until(host, closed(deps, 1, ["dup/q"]))
    first = summary_of(deps, "dup/q")
    results = output(deps, "dup/q/results.jsonl")
    before = batches(emulator)
    upload(deps, "dup/q.jsonl", data)  # the same bytes again: a new blob version
    upload(deps, "elsewhere/copy.jsonl", data)  # and under another name
    host.deliver_new_blobs()
    run_until(host, closed(deps, 3, ["dup/q", "elsewhere/copy"]))
    assert batches(emulator) == before  # nothing was sent (or billed) again
    again, copy = summary_of(deps, "dup/q"), summary_of(deps, "elsewhere/copy")
    for summary in (again, copy):
        assert summary["status"] == "skipped"
        assert summary["duplicate_of"]["job_id"] == first["job_id"]
        assert summary["duplicate_of"]["output"].endswith("/dup/q/")
        assert summary["counts"] == {"total": 2, "succeeded": 0, "failed": 0, "not_sent": 2}
        assert any("Nothing was sent again" in w for w in summary["warnings"])
    assert output(deps, "dup/q/results.jsonl") == results  # the earlier results stay
    assert output(deps, "elsewhere/copy/results.jsonl") is None  # a pointer, not a copy
    statuses = sorted(j.status for j in jobs(deps))
    assert statuses == [JobStatus.COMPLETED, JobStatus.SKIPPED, JobStatus.SKIPPED]
    # A third identical upload still finds the first job's results through the skip.
    upload(deps, "dup/q.jsonl", data)
    host.deliver_new_blobs()
    run_until(host, closed(deps, 4, ["dup/q"]))
    assert summary_of(deps, "dup/q")["duplicate_of"]["job_id"] == first["job_id"]
    assert batches(emulator) == before


def test_identical_content_runs_again_when_told_to_or_when_it_failed_before(
    app_env, host, emulator, faults
):
    app_env(BATCH_DUPLICATE_HOURS="0")
    deps = default_deps()
    data = jsonl([{"custom_id": "again-1", "prompt": "Name a tree."}])
    upload(deps, "off/q.jsonl", data)
    host.deliver_new_blobs()
    run_until(host, closed(deps, 1, ["off/q"]))
    first = summary_of(deps, "off/q")
    upload(deps, "off/q.jsonl", data)
    host.deliver_new_blobs()
    run_until(host, closed(deps, 2, ["off/q"]))
    second = summary_of(deps, "off/q")
    assert second["status"] == "completed" and second["job_id"] != first["job_id"]
    assert any(first["job_id"] in w and "sent (and billed) again" in w for w in second["warnings"])


def test_identical_content_whose_earlier_run_had_failures_runs_again(app_env, host, faults):
    app_env()
    deps = default_deps()
    faults([{"kind": "line_failure", "custom_id": "^flaky-1$", "status_code": 400, "attempts": 1}])
    data = jsonl([{"custom_id": "flaky-1", "prompt": "Name a fish."}])
    upload(deps, "flaky/q.jsonl", data)
    host.deliver_new_blobs()
    run_until(host, closed(deps, 1, ["flaky/q"]))
    assert summary_of(deps, "flaky/q")["counts"]["failed"] == 1
    upload(deps, "flaky/q.jsonl", data)
    host.deliver_new_blobs()
    run_until(host, closed(deps, 2, ["flaky/q"]))
    second = summary_of(deps, "flaky/q")
    assert second["status"] == "completed" and second["counts"]["succeeded"] == 1
    assert any("ended completed (1 failed)" in w for w in second["warnings"])
