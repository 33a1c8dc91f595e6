"""prepare(): the work files it stores for the rest of the job (Azurite), including job.json."""

from __future__ import annotations

import orjson

from shared.deps import default_deps
from shared.intake.receive import record_job
from shared.jobs.model import JobStatus
from shared.lifecycle.prepare import prepare
from shared.storage.names import JOB_META, WORK_INDEX, part_file, work_prefix
from tests.conftest import jsonl, read_jsonl
from tests.integration.test_flow import chat, output, upload

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


def prepared(deps, name: str, data: bytes):
    upload(deps, name, data)
    container = deps.settings.input_container
    props = deps.blobs.get_blob_client(container, name).get_blob_properties()
    job = record_job(deps, container, name, props.etag, props.last_modified)
    return prepare(deps, job)


def work_file(deps, job, name: str) -> bytes:
    return deps.work.download_blob(work_prefix(job.job_id) + name).readall()


def test_native_file_work_files_and_meta(app_env):
    app_env(BATCH_MAX_REQUESTS="2")
    deps = default_deps()
    job = prepared(deps, "n.jsonl", jsonl([chat(f"r{i}", f"q{i}") for i in range(3)]))
    assert job.status == JobStatus.SUBMITTING and job.total == 3
    assert [(p.index, p.count) for p in job.parts] == [(0, 2), (1, 1)]
    assert orjson.loads(work_file(deps, job, JOB_META)) == {
        "format": "native",
        "input_columns": [],
        "endpoint": "chat",
        "json_schema": None,
        "delimiter": ",",
        "job_settings": None,
    }
    index = read_jsonl(work_file(deps, job, WORK_INDEX))
    assert [(r["line"], r["custom_id"], r["part"]) for r in index] == [
        (1, "r0", 0),
        (2, "r1", 0),
        (3, "r2", 1),
    ]
    assert index[0]["request"] == chat("r0", "q0")["body"]
    uploaded = read_jsonl(work_file(deps, job, part_file(1)))
    assert uploaded == [{**chat("r2", "q2"), "url": "/chat/completions"}]


def test_csv_with_folder_settings_meta_has_columns_and_schema(app_env):
    app_env()
    deps = default_deps()
    upload(
        deps, "team/_job.json", orjson.dumps({"template": "About {city}", "json_schema": SCHEMA})
    )
    job = prepared(deps, "team/sub/cities.csv", b"city,country\nParis,FR\nRome,IT\n")
    assert job.status == JobStatus.SUBMITTING
    meta = orjson.loads(work_file(deps, job, JOB_META))
    assert meta.pop("job_settings")["name"] == "team/_job.json"
    assert meta == {
        "format": "csv",
        "input_columns": ["city", "country"],
        "endpoint": "chat",
        "json_schema": SCHEMA,
        "delimiter": ",",
    }
    [first, _] = read_jsonl(work_file(deps, job, WORK_INDEX))
    assert first["input"] == {"city": "Paris", "country": "FR"}
    assert first["request"]["messages"] == [{"role": "user", "content": "About Paris"}]


def test_prompt_file_meta_for_the_responses_endpoint(app_env):
    app_env()
    deps = default_deps()
    upload(deps, "r/_job.json", orjson.dumps({"endpoint": "responses"}))
    job = prepared(deps, "r/q.jsonl", jsonl([{"prompt": "x", "tag": "t"}]))
    meta = orjson.loads(work_file(deps, job, JOB_META))
    assert meta.pop("job_settings")["name"] == "r/_job.json"
    assert meta == {
        "format": "prompt",
        "input_columns": ["prompt", "tag"],
        "endpoint": "responses",
        "json_schema": None,
        "delimiter": ",",
    }


def test_broken_job_settings_reject_the_file_with_a_report(app_env):
    app_env()
    deps = default_deps()
    upload(deps, "bad/_job.json", b'{"deployment": "x", "colour": "blue"}')
    job = prepared(deps, "bad/in/file.jsonl", jsonl([chat("a", "x")]))
    assert job.status == JobStatus.REJECTED and job.parts == ()
    [error] = read_jsonl(output(deps, "bad/in/file/errors.jsonl"))
    assert error["line"] is None and error["error"]["code"] == "invalid_job_settings"
    assert error["error"]["message"].startswith('bad/_job.json: unknown field "colour"')
    summary = orjson.loads(output(deps, "bad/in/file/summary.json"))
    assert summary["status"] == "rejected"


def test_a_rejected_file_stores_no_work_files(app_env):
    app_env()
    deps = default_deps()
    job = prepared(deps, "r.jsonl", jsonl([chat("a", "x"), chat("a", "y")]))
    assert job.status == JobStatus.REJECTED
    assert list(deps.work.list_blobs(name_starts_with=job.job_id)) == []


def test_an_empty_job_settings_file_is_reported(app_env):
    app_env()
    deps = default_deps()
    upload(deps, "e/_job.json", b"")
    job = prepared(deps, "e/q.jsonl", jsonl([chat("a", "x")]))
    assert job.status == JobStatus.REJECTED
    [error] = read_jsonl(output(deps, "e/q/errors.jsonl"))
    assert "e/_job.json: is not valid JSON" in error["error"]["message"]
