"""Honest results, pure: finish reasons, structured answers that do not parse, results.csv
column names, service line numbers mapped back to input lines, the content key."""

from __future__ import annotations

import orjson

from shared.intake.duplicates import Digest
from shared.intake.job_settings import Used
from shared.jobs.meta import JobMeta
from shared.jobs.model import Part
from shared.results.answers import finish_reason, structured_error
from shared.results.outcomes import Outcomes
from shared.results.part_lines import PartLines, part_errors
from shared.results.results_csv import CsvSpec
from shared.results.retry import Attempts
from tests.support import merge

CHAT_JSON = {"response_format": {"type": "json_object"}}
RESPONSES_JSON = {"text": {"format": {"type": "json_schema", "name": "a", "schema": {}}}}


def chat(content, reason="stop"):
    return {"choices": [{"finish_reason": reason, "message": {"content": content}}]}


def responses(text, status="completed", reason=None):
    output = [{"type": "message", "content": [{"type": "output_text", "text": text}]}]
    details = {"reason": reason} if reason else None
    return {"status": status, "incomplete_details": details, "output": output}


def test_finish_reasons_of_chat_and_responses_bodies():
    assert finish_reason(chat("x", "length")) == "length"
    assert finish_reason(responses("x")) == "stop"
    assert finish_reason(responses("x", "incomplete", "max_output_tokens")) == "length"
    assert finish_reason(responses("x", "incomplete", "content_filter")) == "content_filter"
    assert finish_reason(None) is None and finish_reason({"choices": []}) is None


def test_a_structured_answer_must_be_a_json_object():
    assert structured_error({}, chat("not json"), "stop") is None  # no structure asked for
    assert structured_error(CHAT_JSON, chat('{"a": 1}'), "stop") is None
    cut = structured_error(CHAT_JSON, chat('{"colour":"ember-916'), "length")
    assert cut is not None and cut["code"] == "output_truncated" and cut["status_code"] == 200
    bad = structured_error(RESPONSES_JSON, responses("[1, 2]"), "stop")
    assert bad is not None and bad["code"] == "invalid_structured_output"
    none = structured_error(CHAT_JSON, chat(None), "stop")
    assert none is not None and none["code"] == "no_structured_output"


def test_csv_names_never_collide_however_the_inputs_are_named():
    spec = CsvSpec(("status", "input.status", "answer", "line"), ("status", "answer", "city"))
    header = spec.header
    assert len(set(header)) == len(header)
    assert header == [
        "custom_id", "line", "status",
        "input.input.status", "input.status", "input.answer", "input.line",
        "answer.status", "answer.answer", "city",
        "error", "finish_reason", "raw_answer",
    ]  # fmt: skip


def test_job_meta_keeps_the_delimiter_and_the_settings_used():
    meta = JobMeta(format="csv", delimiter=";", job_settings={"name": "a/_job.json", "etag": "e"})
    again = JobMeta.from_json(meta.to_json())
    assert again == meta and again.delimiter == ";" and again.job_settings == meta.job_settings
    assert JobMeta.from_json(b'{"format": "csv"}').delimiter == ","  # jobs from before


def record(line, cid, part):
    return orjson.dumps({"line": line, "custom_id": cid, "part": part, "request": {}})


def test_the_services_part_lines_become_input_lines_also_in_a_retry_round():
    # Input lines 1..5; part 0 holds lines 1, 3, 5 (deployment a), part 1 lines 2, 4 (b);
    # part 2 is the retry round of lines 1 and 5. The service names lines of its own files.
    parts = {
        0: Part(0, "a", "/chat/completions", 3, remote_status="completed"),
        1: Part(1, "b", "/chat/completions", 2, remote_status="failed",
                errors=({"code": "model_not_found", "message": "m", "line": 2},)),
        2: Part(2, "a", "/chat/completions", 2, round=2, remote_status="failed",
                errors=({"code": "invalid_request", "message": "r", "line": 2},
                        {"code": "empty_file", "message": "no line"})),
    }  # fmt: skip
    attempts = Attempts()
    attempts.add_retry_part(["c1", "c5"], 2)
    index = [record(1, "c1", 0), record(2, "c2", 1), record(3, "c3", 0), record(4, "c4", 1)]
    index.append(record(5, "c5", 0))
    lines = PartLines.of(parts)
    assert lines is not None
    rows = list(merge_with(index, parts, attempts, lines))
    errors = part_errors(parts.values(), lines)
    assert [(e["line"], e["custom_id"], e["batch_line"]) for e in errors[1]] == [(4, "c4", 2)]
    assert [(e.get("line"), e.get("batch_line")) for e in errors[2]] == [(5, 2), (None, None)]
    by_id = {r["custom_id"]: r["error"]["code"] for r in rows if r["error"]}
    assert by_id["c4"] == "model_not_found" and by_id["c5"] == "invalid_request"
    assert by_id["c1"] == "invalid_request"  # its batch's first error: it was refused too
    assert part_errors(parts.values(), None)[1][0]["line"] is None  # never a part's line


def merge_with(index, parts, attempts, lines):
    from shared.results.merge import merged_results

    return merged_results(map(orjson.loads, index), Outcomes(), parts, attempts, lines)


def test_merge_without_line_errors_needs_no_counting():
    parts = {0: Part(0, "a", "/chat/completions", 1, remote_status="completed")}
    assert PartLines.of(parts) is None
    [row] = merge([record(1, "x", 0)], Outcomes(), parts)
    assert row["error"]["code"] == "missing_from_output" and row["finish_reason"] is None


def test_the_content_key_covers_bytes_settings_and_deployment():
    def key(data, used=None, deployment="d", kind="jsonl"):
        digest = Digest()
        list(digest.through([data[:3], data[3:]]))
        return digest.key(used, deployment, kind)

    settings = Used("a/_job.json", "e1", "1" * 64)
    assert key(b"same bytes") == key(b"same bytes")
    assert key(b"same bytes") != key(b"same bytez")
    assert key(b"same bytes") != key(b"same bytes", settings)
    assert key(b"same bytes", settings) == key(b"same bytes", Used("b/_job.json", "e2", "1" * 64))
    assert key(b"same bytes") != key(b"same bytes", deployment="other")
    # How the bytes are read is part of the content: a .csv's header and row are 2 .txt prompts.
    assert key(b"same bytes", kind="csv") != key(b"same bytes", kind="text")
    assert key(b"same bytes", kind="csv") != key(b"same bytes", kind="tsv")
