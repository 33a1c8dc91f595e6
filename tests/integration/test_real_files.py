"""The files real users have, dropped into Azurite and run through the registered functions and
the emulator: other formats, truncated structured answers, colliding CSV columns, semicolon
spreadsheets, line numbers inside split batches, huge prompts, embeddings, rejected counts."""

from __future__ import annotations

import csv
import io
import re

import orjson

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import jsonl, read_jsonl, run_until
from tests.integration.test_flow import chat, jobs, output, summary_of, upload

SCHEMA = {
    "type": "object",
    "properties": {"colour": {"type": "string"}, "status": {"type": "string"}},
    "required": ["colour", "status"],
    "additionalProperties": False,
}
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def finish(host, deps, prefixes: list[str], timeout: float = 30.0) -> list[dict]:
    """Deliver what was uploaded, run until every job is closed; the summaries, in order."""
    host.deliver_new_blobs()

    def done() -> bool:
        found = list(deps.store.all_jobs())
        closed = found and all(j.is_terminal and j.cleaned for j in found)
        return bool(closed) and all(summary_of(deps, p) is not None for p in prefixes)

    run_until(host, done, timeout)
    return [summary_of(deps, p) for p in prefixes]


def table(data: bytes, delimiter: str = ",") -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the byte-order mark spreadsheets need
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=delimiter))


# --- formats -------------------------------------------------------------------------------------


def test_a_json_array_and_a_txt_of_prompts_run_like_jsonl(app_env, host):
    app_env()
    deps = default_deps()
    array = orjson.dumps([chat("a", "one"), chat("b", "two")], option=orjson.OPT_INDENT_2)
    upload(deps, "in/array.json", array)
    upload(deps, "in/prompts.txt", b"What is 2+2?\n\nName a river.\n")
    arr, txt = finish(host, deps, ["in/array.json", "in/prompts.txt"])
    assert arr["status"] == "completed" and arr["counts"]["succeeded"] == 2
    results = read_jsonl(output(deps, "in/array.json/results.jsonl"))
    assert [(r["custom_id"], r["line"]) for r in results] == [("a", 2), ("b", 16)]
    assert txt["status"] == "completed" and txt["counts"]["succeeded"] == 2
    rows = table(output(deps, "in/prompts.txt/results.csv"))
    assert rows[0][:4] == ["custom_id", "line", "status", "prompt"]
    assert [r[:4] for r in rows[1:]] == [
        ["1", "1", "succeeded", "What is 2+2?"],
        ["3", "3", "succeeded", "Name a river."],
    ]


def test_misnamed_formats_are_one_clear_problem_each(app_env, host):
    app_env()
    deps = default_deps()
    rows = [chat(f"r{i}", f"q{i}") for i in range(20)]
    upload(deps, "bad/array.jsonl", orjson.dumps(rows, option=orjson.OPT_INDENT_2))
    pretty = b"\n".join(orjson.dumps(r, option=orjson.OPT_INDENT_2) for r in rows)
    upload(deps, "bad/pretty.jsonl", pretty)
    upload(deps, "bad/lines.txt", jsonl(rows))
    upload(deps, "bad/sheet.xlsx", b"PK\x03\x04" + b"\x00" * 100)
    upload(deps, "bad/data.dat", jsonl(rows))
    names = ["bad/array", "bad/pretty", "bad/lines.txt", "bad/sheet.xlsx", "bad/data.dat"]
    summaries = finish(host, deps, names)
    assert [s["status"] for s in summaries] == ["rejected"] * 5
    codes = [
        [e["error"]["code"] for e in read_jsonl(output(deps, f"{n}/errors.jsonl"))] for n in names
    ]
    assert codes == [
        ["json_array_not_jsonl"],
        ["multiline_json_not_jsonl"],
        ["json_in_text_file"],
        ["compressed"],
        ["unsupported_file_type"],
    ]
    [data_error] = read_jsonl(output(deps, "bad/data.dat/errors.jsonl"))
    assert "name it .jsonl" in data_error["error"]["message"]
    # I1: a rejected input has no batch.
    assert all(j.status == JobStatus.REJECTED and j.parts == () for j in jobs(deps))


def test_embeddings_and_a_prompt_no_model_can_hold_are_refused_naming_the_line(app_env, host):
    app_env()
    deps = default_deps()
    embed = {"custom_id": "e", "url": "/v1/embeddings", "body": {"model": "m", "input": "x"}}
    upload(deps, "embed.jsonl", jsonl([chat("a", "fine"), embed]))
    huge = b"word " * 2_200_000  # 11 MB: about 2.75M tokens, more than twice any context
    upload(deps, "huge.txt", b"a short one\n" + huge + b"\nanother\n")
    embed_summary, huge_summary = finish(host, deps, ["embed", "huge.txt"])
    [problem] = read_jsonl(output(deps, "embed/errors.jsonl"))
    assert problem["line"] == 2
    assert "Azure OpenAI's batch API does not take embeddings" in problem["error"]["message"]
    [problem] = read_jsonl(output(deps, "huge.txt/errors.jsonl"))
    assert (problem["line"], problem["error"]["code"]) == (2, "exceeds_context")
    assert "Line 2" in problem["error"]["message"]
    # A rejected file's counts add up: nothing failed, everything was not sent.
    assert embed_summary["counts"] == {
        "total": 2, "succeeded": 0, "failed": 0, "not_sent": 2, "problems": 1
    }  # fmt: skip
    assert huge_summary["counts"]["not_sent"] == 3


# --- answers -------------------------------------------------------------------------------------


def test_truncated_structured_answers_fail_with_their_raw_text_and_are_counted(app_env, host):
    app_env()
    deps = default_deps()
    settings = {"json_schema": SCHEMA, "template": "Colour of {thing}?", "body": {"max_tokens": 4}}
    upload(deps, "cut/_job.json", orjson.dumps(settings))
    upload(deps, "cut/things.csv", b"thing\nember\nsea\n")
    short = chat("p", "a long answer, please")
    short["body"]["max_tokens"] = 3
    upload(deps, "plain.jsonl", jsonl([short]))
    cut, plain = finish(host, deps, ["cut/things.csv", "plain"])
    results = read_jsonl(output(deps, "cut/things.csv/results.jsonl"))
    assert [r["status"] for r in results] == ["failed", "failed"]
    for result in results:
        assert result["error"]["code"] == "output_truncated"
        assert result["finish_reason"] == "length"
        raw = result["response"]["choices"][0]["message"]["content"]
        assert raw.startswith("{") and not raw.endswith("}")  # the raw text is kept
    assert cut["counts"] == {"total": 2, "succeeded": 0, "failed": 2}
    assert cut["finish_reasons"] == {"length": 2}
    assert any("cut off by a token limit" in w for w in cut["warnings"])
    rows = table(output(deps, "cut/things.csv/results.csv"))
    header = rows[0]
    assert header[-3:] == ["error", "finish_reason", "raw_answer"]
    for row in rows[1:]:
        cells = dict(zip(header, row, strict=True))
        assert cells["finish_reason"] == "length" and cells["raw_answer"].startswith("{")
        assert cells["error"].startswith("output_truncated:") and cells["colour"] == ""
    # Plain text cut off is still an answer, but counted and visible.
    [result] = read_jsonl(output(deps, "plain/results.jsonl"))
    assert result["status"] == "succeeded" and result["finish_reason"] == "length"
    assert plain["finish_reasons"] == {"length": 1}
    assert any("cut off by a token limit" in w for w in plain["warnings"])


def test_csv_columns_never_collide_and_keep_the_input_delimiter(app_env, host):
    app_env()
    deps = default_deps()
    settings = {"json_schema": SCHEMA, "template": "{question}"}
    upload(deps, "sheets/_job.json", orjson.dumps(settings))
    semicolons = "id;question;answer;status\n1;Ciel ?;oui;open\n2;Mer ?;non;closed\n"
    upload(deps, "sheets/fr.csv", b"\xef\xbb\xbf" + semicolons.encode())
    upload(deps, "plain/tabs.tsv", b"prompt\terror\nhello\tnone\n")
    fr, tabs = finish(host, deps, ["sheets/fr.csv", "plain/tabs.tsv"])
    assert fr["status"] == tabs["status"] == "completed"
    rows = table(output(deps, "sheets/fr.csv/results.csv"), ";")
    assert rows[0] == [
        "custom_id", "line", "status", "id", "question", "input.answer", "input.status",
        "colour", "answer.status", "error", "finish_reason", "raw_answer",
    ]  # fmt: skip
    assert len(set(rows[0])) == len(rows[0])
    assert [r[3:7] for r in rows[1:]] == [
        ["1", "Ciel ?", "oui", "open"],
        ["2", "Mer ?", "non", "closed"],
    ]
    assert all(r[7] and r[8] and r[10] == "stop" for r in rows[1:])
    tsv = table(output(deps, "plain/tabs.tsv/results.csv"), "\t")
    assert tsv[0] == [
        "custom_id",
        "line",
        "status",
        "prompt",
        "input.error",
        "answer",
        "error",
        "finish_reason",
    ]
    assert tsv[1][3:5] == ["hello", "none"] and tsv[1][5]


def test_the_services_line_numbers_in_a_split_batch_are_the_inputs(app_env, host):
    app_env()
    deps = default_deps()
    rows = [chat("ok-1", "a"), chat("bad", "b", "no-such-batch"), chat("ok-2", "c")]
    upload(deps, "mixed.jsonl", jsonl(rows))
    [summary] = finish(host, deps, ["mixed"])
    assert summary["status"] == "failed"
    [error] = [e for e in summary["errors"] if e["code"] == "model_not_found"]
    assert (error["line"], error["custom_id"], error["batch_line"]) == (2, "bad", 1)
    [batch] = [b for b in summary["batches"] if b["deployment"] == "no-such-batch"]
    assert [(e["line"], e["batch_line"]) for e in batch["errors"]] == [(2, 1)]
    results = read_jsonl(output(deps, "mixed/results.jsonl"))
    assert [(r["custom_id"], r["status"]) for r in results] == [
        ("ok-1", "succeeded"), ("bad", "failed"), ("ok-2", "succeeded")
    ]  # fmt: skip
    assert results[1]["error"]["code"] == "model_not_found"


def test_summary_times_and_etags_have_one_format(app_env, host):
    app_env()
    deps = default_deps()
    upload(deps, "times.jsonl", jsonl([chat("a", "x")]))
    [summary] = finish(host, deps, ["times"])
    stamps = [summary["created_at"], summary["completed_at"], summary["batches"][0]["ended_at"]]
    assert all(STAMP.match(s) for s in stamps), stamps
    assert not summary["input"]["etag"].startswith('"')
    assert summary["finish_reasons"] == {"stop": 1} and summary["job_settings"] is None
