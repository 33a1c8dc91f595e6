import csv
import io

from shared.jobs.meta import JobMeta
from shared.results.results_csv import (
    CsvSpec,
    CsvWriter,
    answer_text,
    csv_spec,
    row_for,
    schema_fields,
)

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "pop": {"type": "integer"}}}


def test_schema_fields_bare_or_wrapped():
    assert schema_fields(SCHEMA) == ("city", "pop")
    assert schema_fields({"name": "x", "schema": SCHEMA, "strict": True}) == ("city", "pop")
    assert schema_fields({"type": "string"}) is None


def test_spec_for_native_only_with_structured_output():
    chat = {"response_format": {"type": "json_schema", "json_schema": {"schema": SCHEMA}}}
    responses = {"text": {"format": {"type": "json_schema", "name": "x", "schema": SCHEMA}}}
    assert csv_spec(JobMeta(), {"messages": []}) is None
    assert csv_spec(JobMeta(), chat) == CsvSpec((), ("city", "pop"))
    assert csv_spec(JobMeta(), responses) == CsvSpec((), ("city", "pop"))
    prompt = csv_spec(JobMeta(format="prompt", input_columns=("topic",)), {"messages": []})
    assert prompt == CsvSpec(("topic",), None)
    assert prompt.header == [
        "custom_id", "line", "status", "topic", "answer", "error", "finish_reason"
    ]  # fmt: skip


def test_answer_text_from_chat_and_responses_bodies():
    assert answer_text({"choices": [{"message": {"content": "hi"}}]}) == "hi"
    body = {
        "output": [
            {"type": "reasoning"},
            {
                "type": "message",
                "content": [
                    {"type": "output_text", "text": "a"},
                    {"type": "output_text", "text": "b"},
                ],
            },
        ]
    }
    assert answer_text(body) == "ab"
    assert answer_text(None) is None


def test_rows_carry_inputs_fields_and_errors():
    spec = CsvSpec(("topic",), ("city", "pop"))
    ok = {
        "custom_id": "a",
        "line": 1,
        "status": "succeeded",
        "input": {"topic": "t"},
        "response": {"choices": [{"message": {"content": '{"city": "Oslo", "pop": 7}'}}]},
    }
    bad = {
        "custom_id": "b",
        "line": 2,
        "status": "failed",
        "input": {"topic": "u"},
        "response": None,
        "error": {"code": "http_400", "message": "no"},
    }
    assert row_for(ok, spec) == ["a", "1", "succeeded", "t", "Oslo", "7", "", "", ""]
    assert row_for(bad, spec) == ["b", "2", "failed", "u", "", "", "http_400: no", "", ""]


def test_writer_writes_a_bom_header_and_rows(tmp_path):
    path = tmp_path / "results.csv"
    writer = CsvWriter.open(path, CsvSpec((), None))
    writer.write(
        {
            "custom_id": "a",
            "line": 1,
            "status": "succeeded",
            "response": {"choices": [{"message": {"content": 'x, "y"\nz'}}]},
        }
    )
    writer.close()
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows == [
        ["custom_id", "line", "status", "answer", "error", "finish_reason"],
        ["a", "1", "succeeded", 'x, "y"\nz', "", ""],
    ]
    none = CsvWriter.open(tmp_path / "none.csv", None)
    none.write({})
    none.close()
    assert not (tmp_path / "none.csv").exists()
