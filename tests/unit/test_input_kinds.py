"""The file-kind rule and the formats people really upload: `.json` arrays, pretty-printed JSON,
plain prompts in `.txt`, unknown extensions, embeddings, prompts too large for any model."""

from __future__ import annotations

import orjson
import pytest

from shared.intake import folder_settings
from shared.intake.formats import file_kind
from shared.intake.options import IntakeOptions
from shared.intake.read import Sink, read_input
from shared.intake.rules import LARGEST_CONTEXT


class Collect(Sink):
    def __init__(self):
        self.requests = []

    def add(self, request, part):
        self.requests.append(request)


def read(data: bytes, kind: str, chunk: int = 7, **kw):
    options = IntakeOptions(**{"default_deployment": "dep", **kw})
    sink = Collect()
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)] or [b""]
    return read_input(chunks, sink, kind, options), sink.requests


def codes(intake):
    return [(p.line, p.code) for p in intake.problems]


def native(cid: str, text: str = "hi") -> dict:
    return {
        "custom_id": cid,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "dep", "messages": [{"role": "user", "content": text}]},
    }


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("a/b.jsonl", "jsonl"),
        ("B.JSONL", "jsonl"),
        ("x.ndjson", "jsonl"),
        ("x.json", "json"),
        ("x.csv", "csv"),
        ("x.TSV", "tsv"),
        ("notes.txt", "text"),
        ("sheet.xlsx", "unsupported"),
        ("data.jsonl.gz", "unsupported"),
        ("README", "unsupported"),
        ("dir.v2/README", "unsupported"),
    ],
)
def test_the_extension_decides_the_kind(name, kind):
    assert file_kind(name) == kind


# --- .json ---------------------------------------------------------------------------------------


def test_a_pretty_printed_json_array_of_requests_is_read_value_by_value():
    data = orjson.dumps(
        [native("a"), native("b", 'with } and ] and {"[ in it')], option=orjson.OPT_INDENT_2
    )
    intake, requests = read(data, "json")
    assert intake.ok, codes(intake)
    assert [r.custom_id for r in requests] == ["a", "b"]
    assert [r.line for r in requests] == [2, 16]  # the line each object starts on
    assert requests[1].body["messages"][0]["content"] == 'with } and ] and {"[ in it'


def test_a_one_line_json_array_of_prompt_objects_and_objects_one_after_another():
    one_line = orjson.dumps([{"prompt": "p1", "topic": "a"}, {"prompt": "p2", "topic": "b"}])
    intake, requests = read(one_line, "json")
    assert intake.ok and intake.format == "prompt" and intake.input_columns == ["prompt", "topic"]
    assert [(r.line, r.custom_id) for r in requests] == [(1, "1"), (1, "2")]  # by position
    assert [r.body["messages"][-1]["content"] for r in requests] == ["p1", "p2"]
    series = (
        orjson.dumps({"prompt": "x"}, option=orjson.OPT_INDENT_2)
        + b"\n"
        + orjson.dumps({"prompt": "y"})
    )
    intake, requests = read(b"\n" + series + b"\n", "json")
    assert intake.ok, codes(intake)
    assert [(r.line, r.custom_id) for r in requests] == [(2, "1"), (5, "2")]


def test_a_json_array_reports_each_bad_value_at_its_own_line():
    data = b'[\n  {"prompt": "fine"},\n  {"prompt": 3},\n  [1, 2],\n  {"prompt": NaN}\n]\n'
    intake, _ = read(data, "json")
    assert codes(intake) == [(3, "missing_prompt"), (4, "not_an_object"), (5, "invalid_json")]


def test_json_values_that_are_not_objects_name_their_position_and_the_fix():
    intake, _ = read(b'["first prompt", "second prompt",\n 7, null, [1]]', "json")
    assert (
        codes(intake) == [(1, "not_an_object"), (1, "not_an_object")] + [(2, "not_an_object")] * 3
    )
    messages = [p.message for p in intake.problems]
    assert len(set(messages)) == len(messages)
    assert messages[1].startswith("Line 1: item 2 of the JSON array is a string, not an object")
    assert '{"prompt": "..."}' in messages[1] and ".txt" in messages[1]
    assert messages[2].startswith("Line 2: item 3 of the JSON array is a number")
    assert "null" in messages[3] and "an array" in messages[4]
    intake, _ = read(b'{"prompt": "a"}\n"b"\n', "json")  # values one after another
    assert intake.problems[0].message.startswith("Line 2: value 2 of the file is a string")


def test_an_unclosed_array_and_text_after_the_array_are_one_problem_each():
    intake, _ = read(b'[{"prompt": "a"},\n{"prompt": "b"}\n', "json")
    assert codes(intake) == [(None, "unclosed_array")]
    intake, _ = read(b'[{"prompt": "a"}]\nmore text\n{"prompt": "b"}\n', "json")
    assert codes(intake) == [(2, "text_after_array")]


def test_an_empty_json_array_holds_no_requests():
    intake, _ = read(b"[ ]\n", "json")
    assert codes(intake) == [(None, "empty_file")]


# --- .jsonl in another format --------------------------------------------------------------------


def test_a_json_array_named_jsonl_is_one_problem_that_names_the_format_and_the_fix():
    data = orjson.dumps([native(f"r{i}") for i in range(40)], option=orjson.OPT_INDENT_2)
    intake, requests = read(data, "jsonl")
    assert codes(intake) == [(1, "json_array_not_jsonl")] and requests == []
    message = intake.problems[0].message
    assert "JSON array" in message and ".json" in message and "one JSON object per line" in message


def test_pretty_printed_json_lines_are_one_problem_not_one_per_line():
    data = b"\n".join(orjson.dumps(native(f"r{i}"), option=orjson.OPT_INDENT_2) for i in range(10))
    intake, _ = read(b"\n" + data, "jsonl")
    assert codes(intake) == [(2, "multiline_json_not_jsonl")]
    assert "pretty-printed" in intake.problems[0].message


def test_a_cut_off_first_line_is_still_reported_as_invalid_json():
    intake, _ = read(b'{"custom_id": "a", "body": {"model": "x", "mess\n', "jsonl")
    assert codes(intake) == [(1, "invalid_json")]


# --- .txt ----------------------------------------------------------------------------------------


def test_a_txt_file_is_one_prompt_per_line_with_blank_lines_skipped():
    data = b"What is 2+2?\r\n\r\nName a river.\r\n{not json} but a prompt\r\n"
    intake, requests = read(data, "text")
    assert intake.ok and intake.format == "text" and intake.input_columns == ["prompt"]
    assert [(r.line, r.custom_id) for r in requests] == [(1, "1"), (3, "3"), (4, "4")]
    assert requests[0].body["messages"] == [{"role": "user", "content": "What is 2+2?"}]
    assert requests[0].input == {"prompt": "What is 2+2?"}
    assert any("blank" in w for w in intake.warnings)


def test_a_txt_file_fills_a_template_as_prompt():
    parsed = folder_settings.parse("_job.json", b'{"template": "Translate: {prompt}"}')
    assert not isinstance(parsed, list)
    intake, requests = read(b"bonjour\nhola\n", "text", settings=parsed)
    assert intake.ok
    assert requests[1].body["messages"][-1]["content"] == "Translate: hola"
    other = folder_settings.parse("_job.json", b'{"template": "About {name}"}')
    assert not isinstance(other, list)
    intake, _ = read(b"bonjour\n", "text", settings=other)
    assert codes(intake) == [(None, "missing_field")]


def test_json_lines_named_txt_are_one_problem():
    data = b"".join(orjson.dumps(native(f"r{i}")) + b"\n" for i in range(30))
    intake, _ = read(data, "text")
    assert codes(intake) == [(1, "json_in_text_file")] and ".jsonl" in intake.problems[0].message


# --- other names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "guess"),
    [
        (b'[{"prompt": "a"}]', "JSON array: name it .json"),
        (b'{"prompt": "a"}\n{"prompt": "b"}\n', "JSON Lines: name it .jsonl"),
        (b"id,prompt\n1,hello\n", "CSV: name it .csv"),
        (b"Tell me a joke.\nAnother one.\n", "plain text: name it .txt"),
    ],
)
def test_an_unsupported_name_is_one_problem_with_a_guess_at_the_fix(data, guess):
    intake, requests = read(data, "unsupported")
    assert codes(intake) == [(None, "unsupported_file_type")] and requests == []
    assert guess in intake.problems[0].message
    assert ".jsonl, .json, .csv, .tsv or .txt" in intake.problems[0].message


def test_a_workbook_under_any_name_says_to_export_csv():
    intake, _ = read(b"PK\x03\x04" + b"\x00" * 64, "unsupported")
    assert codes(intake) == [(None, "compressed")] and "CSV UTF-8" in intake.problems[0].message


# --- embeddings, huge prompts --------------------------------------------------------------------


def test_embeddings_are_refused_saying_the_batch_api_does_not_take_them():
    line = {"custom_id": "e", "url": "/v1/embeddings", "body": {"model": "emb", "input": "x"}}
    intake, _ = read(orjson.dumps(line) + b"\n", "jsonl")
    assert codes(intake) == [(1, "unsupported_url")]
    assert "Azure OpenAI's batch API does not take embeddings" in intake.problems[0].message
    found = folder_settings.parse("_job.json", b'{"endpoint": "embeddings"}')
    assert isinstance(found, list) and "does not take embeddings" in found[0].message


def test_a_prompt_no_model_can_hold_is_refused_naming_its_line():
    huge = "word " * (LARGEST_CONTEXT * 2)  # about 10.5M characters: ~2.6M tokens
    data = b"small one\n" + huge.encode() + b"\nanother\n"
    intake, _ = read(data, "text", chunk=1 << 20)
    assert codes(intake) == [(2, "exceeds_context")]
    assert "Line 2" in intake.problems[0].message and "1,050,000" in intake.problems[0].message


def test_a_prompt_just_over_the_largest_context_is_a_warning_naming_its_line():
    big = "word " * (LARGEST_CONTEXT + 10_000)  # ~5.3M characters: over by the estimate
    data = b"small one\n" + big.encode() + b"\n"
    intake, requests = read(data, "text", chunk=1 << 20)
    assert intake.ok and len(requests) == 2
    [warning] = [w for w in intake.warnings if "context window" in w]
    assert "first on line 2" in warning


@pytest.mark.parametrize("chunk", [1, 2, 3, 5, 8, 13, 64, 1 << 20])
@pytest.mark.parametrize("indent", [0, orjson.OPT_INDENT_2])
def test_any_chunking_of_a_json_array_gives_the_same_requests(chunk, indent):
    texts = ['a "quoted" word', "back\\slash\\", "[{]}", "ünïcode ✓", "line\nbreak", '\\"', ""]
    rows = [
        {"custom_id": f"c{i}", "prompt": t or "x", "n": [i, {"k": t}]} for i, t in enumerate(texts)
    ]
    intake, requests = read(orjson.dumps(rows, option=indent), "json", chunk=chunk)
    assert intake.ok, codes(intake)
    assert [r.input for r in requests] == [
        {k: v for k, v in r.items() if k != "custom_id"} for r in rows
    ]
