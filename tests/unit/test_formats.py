"""Prompt JSONL and CSV inputs: requests built from fields, templates and the folder's settings."""

from __future__ import annotations

import orjson
import pytest

from shared.intake import folder_settings
from shared.intake.options import IntakeOptions
from shared.intake.read import Sink, read_input

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


class Collect(Sink):
    def __init__(self):
        self.requests = []

    def add(self, request, part):
        self.requests.append(request)


def settings(**fields):
    parsed = folder_settings.parse("dir/_job.json", orjson.dumps(fields))
    assert not isinstance(parsed, list), parsed
    return parsed


def read(data, kind="jsonl", chunk=5, **kw):
    options = IntakeOptions(**{"default_deployment": "dep", **kw})
    sink = Collect()
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    return read_input(chunks, sink, kind, options), sink.requests


def jsonl(*rows):
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def codes(intake):
    return [(p.line, p.code) for p in intake.problems]


# --- prompt JSONL -------------------------------------------------------------------------------


def test_prompt_lines_become_chat_requests_and_keep_their_fields():
    intake, requests = read(
        jsonl(
            {"prompt": "Capital of France?", "topic": "geo"},
            {"custom_id": "mine", "prompt": "Largest planet?", "level": 2},
        )
    )
    assert intake.ok and intake.format == "prompt" and intake.endpoint == "chat"
    assert [r.custom_id for r in requests] == ["1", "mine"]  # default: the line number
    assert requests[0].body == {
        "model": "dep",
        "messages": [{"role": "user", "content": "Capital of France?"}],
    }
    assert requests[0].input == {"prompt": "Capital of France?", "topic": "geo"}
    assert requests[1].input == {"prompt": "Largest planet?", "level": 2}
    assert intake.input_columns == ["prompt", "topic", "level"]
    record = orjson.loads(b"".join(requests[1].index_pieces(0)))
    assert record == {
        "line": 2,
        "custom_id": "mine",
        "part": 0,
        "request": requests[1].body,
        "input": {"prompt": "Largest planet?", "level": 2},
    }


def test_messages_lines_are_used_as_the_conversation_with_the_folder_system_prompt():
    convo = [{"role": "user", "content": "Hi"}]
    intake, requests = read(jsonl({"messages": convo}), settings=settings(system="Be brief."))
    assert intake.ok
    assert requests[0].body["messages"] == [{"role": "system", "content": "Be brief."}, *convo]


def test_template_uses_line_fields_and_says_which_is_missing():
    folder = settings(template="Tell me about {city} in {year}")
    intake, requests = read(
        jsonl({"city": "Paris", "year": 1900}, {"city": "Rome"}), settings=folder
    )
    assert codes(intake) == [(2, "missing_field")]
    assert '"year"' in intake.problems[0].message
    intake, requests = read(jsonl({"city": "Paris", "year": 1900}), settings=folder)
    assert requests[0].body["messages"][0]["content"] == "Tell me about Paris in 1900"


def test_responses_endpoint_with_structured_output():
    folder = settings(endpoint="responses", system="Answer as JSON.", json_schema=SCHEMA)
    intake, requests = read(jsonl({"prompt": "Where is the Eiffel Tower?"}), settings=folder)
    assert intake.ok and intake.endpoint == "responses" and intake.json_schema == SCHEMA
    request = requests[0]
    assert request.url == "/v1/responses"
    assert request.body == {
        "model": "dep",
        "input": "Where is the Eiffel Tower?",
        "instructions": "Answer as JSON.",
        "text": {
            "format": {"type": "json_schema", "name": "answer", "schema": SCHEMA, "strict": True}
        },
    }


def test_chat_structured_output_and_body_fields():
    folder = settings(
        deployment="dep-2", json_schema={"name": "city", "schema": SCHEMA}, body={"seed": 1}
    )
    intake, requests = read(jsonl({"prompt": "x"}), settings=folder)
    assert intake.ok and requests[0].deployment == "dep-2"
    assert requests[0].body == {
        "seed": 1,
        "model": "dep-2",
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "city", "schema": SCHEMA, "strict": True},
        },
    }


def test_a_prompt_file_needs_a_deployment_and_says_so_once():
    intake, _ = read(jsonl({"prompt": "a"}, {"prompt": "b"}), default_deployment=None)
    assert codes(intake) == [(None, "missing_deployment")]


def test_prompt_custom_ids_are_checked_and_unique():
    intake, _ = read(jsonl({"prompt": "a", "custom_id": "2"}, {"prompt": "b"}, {"prompt": 5}))
    assert codes(intake) == [(2, "duplicate_custom_id"), (3, "missing_prompt")]


def test_an_empty_custom_id_on_a_prompt_line_says_it_may_be_left_out():
    intake, _ = read(jsonl({"prompt": "a", "custom_id": " "}))
    assert codes(intake) == [(1, "missing_custom_id")]
    assert "leave it out" in intake.problems[0].message


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_rows_with_quoted_line_breaks_and_custom_ids():
    data = b'custom_id,prompt,source\r\na,"two\r\nlines, one comma",web\r\n,empty id,x\r\nc,plain,y'
    intake, requests = read(data, kind="csv", chunk=4)
    assert intake.ok  # an empty custom_id cell is the line number, like a missing column
    assert [r.custom_id for r in requests] == ["a", "4", "c"]
    intake, requests = read(data.replace(b"\r\n,empty", b"\r\nb,empty"), kind="csv")
    assert intake.ok and intake.format == "csv"
    assert [r.custom_id for r in requests] == ["a", "b", "c"]
    assert [r.line for r in requests] == [2, 4, 5]
    assert requests[0].body["messages"][0]["content"] == "two\nlines, one comma"
    assert requests[0].input == {"prompt": "two\nlines, one comma", "source": "web"}
    assert intake.input_columns == ["prompt", "source"]


def test_csv_without_custom_id_column_numbers_rows_by_line():
    intake, requests = read(b"prompt\nhello\n\nworld\n", kind="csv")
    assert intake.ok
    assert [r.custom_id for r in requests] == ["2", "4"]
    assert any("empty rows" in w for w in intake.warnings)


@pytest.mark.parametrize(("sep", "name"), [(b"\t", "tab"), (b";", "semicolon")])
def test_csv_separator_is_detected_from_the_header(sep, name):
    data = b"prompt" + sep + b"lang\nHello, you" + sep + b"en\n"
    intake, requests = read(data, kind="csv")
    assert intake.ok and requests[0].input == {"prompt": "Hello, you", "lang": "en"}
    assert any(name in w for w in intake.warnings)


def test_csv_template_names_columns_and_missing_ones_are_reported_once():
    folder = settings(template="Provide info about {building} in {city}")
    intake, _ = read(b"building\nEiffel Tower\nColosseum\n", kind="csv", settings=folder)
    assert codes(intake) == [(1, "missing_column")]
    assert "{city}" in intake.problems[0].message
    intake, requests = read(b"building,city\nEiffel Tower,Paris\n", kind="csv", settings=folder)
    content = requests[0].body["messages"][0]["content"]
    assert content == "Provide info about Eiffel Tower in Paris"


def test_csv_header_problems():
    intake, _ = read(b"prompt,prompt\na,b\n", kind="csv")
    assert codes(intake) == [(1, "duplicate_column")]
    intake, _ = read(b"question\nwhy?\n", kind="csv")
    assert codes(intake) == [(1, "missing_prompt_column")]
    intake, requests = read(b"prompt,,note\nhi,,n\n", kind="csv")
    assert intake.ok and requests[0].input == {"prompt": "hi", "note": "n"}
    assert any("without a name" in w for w in intake.warnings)


def test_csv_empty_prompt_and_unclosed_quote():
    intake, _ = read(b'prompt,x\n"",1\n', kind="csv")
    assert codes(intake) == [(2, "missing_prompt")]
    intake, _ = read(b'prompt,x\nok,1\n"never closed,2\n', kind="csv")
    assert not intake.ok  # the rest of the file is one value: wrong count or invalid CSV
    assert intake.problems[0].line == 3


def test_a_csv_with_only_a_header_is_empty():
    intake, _ = read(b"prompt\n", kind="csv")
    assert codes(intake) == [(None, "empty_file")]


def test_work_files_rebuild_the_index_with_the_input_fields(tmp_path):
    from shared.intake.workfiles import WorkFiles

    intake, requests = read(jsonl({"prompt": "a", "n": 1}, {"prompt": 'b "quoted"', "n": [2]}))
    work = WorkFiles(tmp_path)
    for request in requests:
        work.add(request, intake.parts[0])
    work.close()
    rebuilt = [orjson.loads(line) for line in work.index_lines()]
    assert rebuilt == [orjson.loads(b"".join(r.index_pieces(0))) for r in requests]
    assert rebuilt[1]["input"] == {"prompt": 'b "quoted"', "n": [2]}
