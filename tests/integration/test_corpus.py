"""The corpus of bad and odd input files (tests/corpus), each with its expected outcome: read
by intake directly, then dropped all at once through the registered function app."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest

from shared.intake import folder_settings
from shared.intake.options import IntakeOptions
from shared.intake.read import Sink, file_kind, read_input
from shared.storage.names import is_ignored, output_prefix
from tests.conftest import read_jsonl, run_until

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
MANIFEST = orjson.loads((CORPUS / "expected.json").read_bytes())
ENV: dict[str, str] = MANIFEST["env"]
CASES: dict[str, dict[str, Any]] = MANIFEST["cases"]


def corpus_files() -> list[str]:
    return sorted(
        str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file() and p.parent != CORPUS
    )


def inputs() -> list[str]:
    return [name for name in corpus_files() if not is_ignored(name)]


def options_for(name: str) -> IntakeOptions | list[Any]:
    def read(path: str) -> bytes | None:
        found = CORPUS / path
        return found.read_bytes() if found.is_file() else None

    settings = folder_settings.find(read, name)
    if isinstance(settings, list):
        return settings
    return IntakeOptions(
        default_deployment=ENV["AZURE_OPENAI_DEPLOYMENT"],
        max_requests=int(ENV["BATCH_MAX_REQUESTS"]),
        max_tokens=int(ENV["BATCH_MAX_TOKENS"]),
        allowed_deployments=frozenset(ENV["BATCH_ALLOWED_DEPLOYMENTS"].split(",")),
        settings=settings,
    )


class Collect(Sink):
    def __init__(self) -> None:
        self.requests: list[Any] = []

    def add(self, request: Any, part: Any) -> None:
        self.requests.append(request)


def test_every_corpus_input_has_an_expected_outcome():
    assert set(inputs()) == set(CASES)


EXAMPLES = CORPUS.parent.parent / "examples"


@pytest.mark.parametrize(
    "name", ["three-questions.jsonl", "questions.jsonl", "buildings/buildings.csv"]
)
def test_the_examples_are_accepted(name):
    def read(path: str) -> bytes | None:
        found = EXAMPLES / path
        return found.read_bytes() if found.is_file() else None

    settings = folder_settings.find(read, name)
    assert not isinstance(settings, list), settings
    options = IntakeOptions(default_deployment="gpt-4o-mini-batch", settings=settings)
    intake = read_input([(EXAMPLES / name).read_bytes()], Sink(), file_kind(name), options)
    assert intake.ok and intake.total == 3 and intake.warnings == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_case_read_directly(name):
    expected = CASES[name]
    options = options_for(name)
    if isinstance(options, list):  # the folder's _job.json is refused before the file is read
        problems = options
        assert expected["status"] == "rejected"
        assert [[p.line, p.code] for p in problems] == expected["problems"]
        assert_messages([p.message for p in problems], expected)
        return
    data = (CORPUS / name).read_bytes()
    sink = Collect()
    chunks = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    intake = read_input(chunks, sink, file_kind(name), options)
    if expected["status"] == "rejected":
        assert not intake.ok
        assert [[p.line, p.code] for p in intake.problems] == expected["problems"]
        assert all(p.line is None or f"Line {p.line}" in p.message for p in intake.problems)
        assert_messages([p.message for p in intake.problems], expected)
        return
    assert intake.ok, intake.problems
    assert intake.total == len(sink.requests) == expected["requests"]
    assert len(intake.parts) == expected["batches"]
    assert_warnings(intake.warnings, expected)
    assert intake.endpoint == expected.get("endpoint", intake.endpoint)
    assert bool(intake.input_columns) == expected.get("input", False)
    first = expected.get("first_request", {})
    assert {k: sink.requests[0].body.get(k) for k in first} == first


def assert_messages(messages: list[str], expected: dict[str, Any]) -> None:
    text = "\n".join(messages)
    for part in expected.get("messages", []):
        assert part in text, f"{part!r} not in {text!r}"


def assert_warnings(warnings: list[str], expected: dict[str, Any]) -> None:
    text = "\n".join(warnings)
    for part in expected.get("warnings", []):
        assert part in text, f"{part!r} not in {text!r}"


# --- through the function app -------------------------------------------------------------------


def output(deps: Any, path: str) -> bytes | None:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return deps.output.download_blob(path).readall()
    except ResourceNotFoundError:
        return None


def test_corpus_through_the_registered_function(app_env, host):
    from shared.deps import default_deps

    app_env(**ENV)
    deps = default_deps()
    container = deps.blobs.get_container_client(deps.settings.input_container)
    for name in corpus_files():
        container.upload_blob(name, (CORPUS / name).read_bytes())
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(host.deliver_blob, corpus_files()))

    def settled() -> bool:
        jobs = list(deps.store.all_jobs())
        return len(jobs) == len(CASES) and all(j.is_terminal and j.cleaned for j in jobs)

    run_until(host, settled, timeout=180)
    for name, expected in CASES.items():
        check_outputs(deps, name, expected)


def check_outputs(deps: Any, name: str, expected: dict[str, Any]) -> None:
    prefix = output_prefix(name)
    summary = orjson.loads(output(deps, f"{prefix}/summary.json") or b"null")
    assert summary is not None, name
    assert summary["status"] == expected["status"], (name, summary)
    assert summary["input"]["name"] == name
    if expected["status"] == "rejected":
        errors = read_jsonl(output(deps, f"{prefix}/errors.jsonl") or b"")
        assert [[e["line"], e["error"]["code"]] for e in errors] == expected["problems"], name
        assert_messages([e["error"]["message"] for e in errors], expected)
        assert summary["batches"] == [], name  # nothing submitted
        return
    assert_warnings(summary["warnings"], expected)
    assert summary["counts"] == {
        "total": expected["requests"],
        "succeeded": expected["requests"],
        "failed": 0,
    }
    assert len(summary["batches"]) == expected["batches"], name
    if "deployments" in expected:
        assert sorted({b["deployment"] for b in summary["batches"]}) == expected["deployments"]
    results = read_jsonl(output(deps, f"{prefix}/results.jsonl") or b"")
    check_results(name, results, expected)


def check_results(name: str, results: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    lines = [r["line"] for r in results]
    assert lines == sorted(lines) and len(set(r["custom_id"] for r in results)) == len(results)
    assert all(r["status"] == "succeeded" for r in results), name
    assert all(("input" in r) == expected.get("input", False) for r in results), name
    first = expected.get("first_request", {})
    assert {k: results[0]["request"].get(k) for k in first} == first, name
    for result in results:
        text = answer_text(result["response"], expected.get("endpoint", "chat"))
        if "schema" in expected:
            assert sorted(orjson.loads(text)) == sorted(expected["schema"]), name


def answer_text(response: dict[str, Any], endpoint: str) -> str:
    if endpoint == "responses":
        return response["output"][0]["content"][0]["text"]
    return response["choices"][0]["message"]["content"]
