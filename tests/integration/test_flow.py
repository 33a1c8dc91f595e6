"""End to end: a file uploaded to Azurite flows through the registered functions and the
emulator (real HTTP, real openai SDK) and comes back as merged outputs."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from azure.core.exceptions import ResourceNotFoundError

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import files_left, jsonl, read_jsonl, run_until

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "three-questions.jsonl"


def upload(deps, name: str, data: bytes) -> None:
    deps.blobs.get_blob_client(deps.settings.input_container, name).upload_blob(
        data, overwrite=True
    )


def output(deps, path: str) -> bytes | None:
    try:
        return deps.output.download_blob(path).readall()
    except ResourceNotFoundError:
        return None


def summary_of(deps, prefix: str) -> dict | None:
    data = output(deps, f"{prefix}/summary.json")
    return orjson.loads(data) if data else None


def jobs(deps):
    return list(deps.store.all_jobs())


def drop_and_finish(host, deps, name: str, data: bytes, prefix: str) -> dict:
    upload(deps, name, data)
    assert host.deliver_new_blobs() == 1
    run_until(host, lambda: summary_of(deps, prefix) is not None and jobs(deps)[0].cleaned)
    summary = summary_of(deps, prefix)
    assert summary is not None
    return summary


def chat(cid: str, question: str, model: str = "gpt-4o-mini-batch") -> dict:
    return {
        "custom_id": cid,
        "method": "POST",
        "url": "/chat/completions",
        "body": {"model": model, "messages": [{"role": "user", "content": question}]},
    }


@pytest.mark.parametrize("api_version", [None, "2024-10-21", "2025-04-01-preview"])
def test_sample_file_comes_back_merged_in_input_order(app_env, host, emulator, api_version):
    app_env(**({"AZURE_OPENAI_API_VERSION": api_version} if api_version else {}))
    deps = default_deps()
    summary = drop_and_finish(
        host, deps, "docs/three-questions.jsonl", EXAMPLE.read_bytes(), "docs/three-questions"
    )
    requests = read_jsonl(EXAMPLE.read_bytes())
    results = read_jsonl(output(deps, "docs/three-questions/results.jsonl"))
    assert [r["custom_id"] for r in results] == ["task-0", "task-1", "task-2"]
    assert [r["line"] for r in results] == [1, 2, 3]
    for request, result in zip(requests, results, strict=True):
        assert result["status"] == "succeeded" and result["error"] is None
        assert result["request"] == request["body"]
        assert result["response"]["choices"][0]["message"]["content"]
        assert result["attempts"] == 1
    assert output(deps, "docs/three-questions/errors.jsonl") == b""
    assert output(deps, "docs/three-questions/results.csv") is None  # plain native: no CSV
    assert summary["status"] == "completed"
    assert summary["counts"] == {"total": 3, "succeeded": 3, "failed": 0}
    assert summary["usage"]["total_tokens"] > 0
    assert summary["input"]["name"] == "docs/three-questions.jsonl"
    assert len(summary["batches"]) == 1 and summary["batches"][0]["status"] == "completed"
    [job] = jobs(deps)
    assert job.status == JobStatus.COMPLETED and job.cleaned and not job.is_open
    # I6: nothing the app uploaded (nor the service's output files) is left at the service.
    assert files_left(emulator, job.job_id) == []
    assert list(deps.work.list_blobs(name_starts_with=job.job_id)) == []


def test_repeated_and_concurrent_events_make_one_job_and_one_batch(app_env, host, emulator):
    from concurrent.futures import ThreadPoolExecutor

    app_env()
    deps = default_deps()
    upload(deps, "again.jsonl", jsonl([chat("a", "hi"), chat("b", "ho")]))
    before = {b["id"] for b in emulator.state()["batches"]}
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: host.deliver_blob("again.jsonl"), range(4)))
    host.deliver_blob("again.jsonl")
    assert len(jobs(deps)) == 1
    run_until(host, lambda: summary_of(deps, "again") is not None and jobs(deps)[0].cleaned)
    created = [b for b in emulator.state()["batches"] if b["id"] not in before]
    assert len(created) == 1
    assert summary_of(deps, "again")["counts"]["succeeded"] == 2


def test_invalid_file_is_rejected_with_a_report_and_nothing_submitted(app_env, host, emulator):
    app_env()
    deps = default_deps()
    data = jsonl([chat("a", "x")]) + b"{oops\n" + jsonl([chat("a", "dup"), [1]])
    summary = drop_and_finish(host, deps, "bad/file.jsonl", data, "bad/file")
    assert summary["status"] == "rejected"
    errors = read_jsonl(output(deps, "bad/file/errors.jsonl"))
    assert [(e["line"], e["error"]["code"]) for e in errors] == [
        (2, "invalid_json"),
        (3, "duplicate_custom_id"),
        (4, "not_an_object"),
    ]
    assert all(f"Line {e['line']}" in e["error"]["message"] for e in errors)
    [job] = jobs(deps)
    assert job.status == JobStatus.REJECTED and job.parts == ()
    assert files_left(emulator, job.job_id) == []  # nothing was uploaded


def test_service_validation_failure_fails_the_job_with_its_reasons(app_env, host):
    app_env(AZURE_OPENAI_DEPLOYMENT="no-such-deployment")
    deps = default_deps()
    data = jsonl([{"custom_id": "a", "body": {"messages": [{"role": "user", "content": "x"}]}}])
    summary = drop_and_finish(host, deps, "unknown-model.jsonl", data, "unknown-model")
    assert summary["status"] == "failed"
    assert summary["errors"] and summary["errors"][0]["code"] == "model_not_found"
    [result] = read_jsonl(output(deps, "unknown-model/results.jsonl"))
    assert result["status"] == "failed" and result["error"]["code"] == "model_not_found"
    assert jobs(deps)[0].status == JobStatus.FAILED


def test_mixed_deployments_become_one_batch_each_and_merge_back(app_env, host):
    app_env()
    deps = default_deps()
    rows = [
        chat(f"r{i}", f"q{i}", "gpt-4.1-batch" if i % 2 else "gpt-4o-mini-batch") for i in range(6)
    ]
    summary = drop_and_finish(host, deps, "mixed.jsonl", jsonl(rows), "mixed")
    assert summary["status"] == "completed"
    assert sorted(b["deployment"] for b in summary["batches"]) == [
        "gpt-4.1-batch",
        "gpt-4o-mini-batch",
    ]
    results = read_jsonl(output(deps, "mixed/results.jsonl"))
    assert [r["custom_id"] for r in results] == [f"r{i}" for i in range(6)]
    assert all(r["status"] == "succeeded" and r["response"]["choices"] for r in results)
    assert sorted(b["requests"] for b in summary["batches"]) == [3, 3]


def test_ignored_names_and_other_containers_start_nothing(app_env, host):
    app_env()
    deps = default_deps()
    upload(deps, "folder/_job.json", b"{}")
    upload(deps, ".hidden.jsonl", jsonl([chat("a", "x")]))
    host.deliver_new_blobs()
    host.deliver_blob("x.jsonl", container=deps.settings.output_container)
    assert jobs(deps) == []


def test_prompts_and_answers_never_reach_logs_or_the_table(app_env, host, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    app_env()
    deps = default_deps()
    canary = "CANARY-" + "7f3a9c" * 3
    drop_and_finish(host, deps, "canary.jsonl", jsonl([chat("a", canary)]), "canary")
    answer = read_jsonl(output(deps, "canary/results.jsonl"))[0]["response"]
    text = answer["choices"][0]["message"]["content"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "canary" in logged.lower()  # the blob name is logged; the prompt is not
    assert canary not in logged and text not in logged
    table = deps.store.table
    every_row = str([dict(e) for e in table.query_entities("PartitionKey ne ''")])
    assert jobs(deps)[0].job_id in every_row  # the rows were read
    assert canary not in every_row and text not in every_row


def test_structured_output_gets_a_results_csv_with_one_column_per_field(app_env, host):
    import csv
    import io

    app_env()
    deps = default_deps()
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "year": {"type": "integer"}},
        "required": ["name", "year"],
        "additionalProperties": False,
    }
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": "thing", "schema": schema, "strict": True},
    }
    rows = [chat(f"s{i}", f"thing {i}") for i in range(3)]
    for row in rows:
        row["body"]["response_format"] = fmt
    summary = drop_and_finish(host, deps, "structured.jsonl", jsonl(rows), "structured")
    assert summary["status"] == "completed"
    text = output(deps, "structured/results.csv").decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == [
        "custom_id", "line", "status", "name", "year", "error", "finish_reason", "raw_answer"
    ]  # fmt: skip
    assert [r[0] for r in table[1:]] == ["s0", "s1", "s2"]
    assert all(r[2] == "succeeded" and r[3] and r[4].lstrip("-").isdigit() for r in table[1:])
