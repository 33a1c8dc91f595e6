"""Intake's memory stays bounded for every input shape (I11): each limit rejects with a report
naming it and the fix, and nothing parses a line into far more memory than its text."""

from __future__ import annotations

import orjson
import pytest

from shared.intake import csv_input, text, unique
from shared.intake.model import MAX_COLUMNS, MAX_NAMES
from shared.intake.options import IntakeOptions
from shared.intake.problem import MAX_MESSAGE
from shared.intake.read import Sink, read_input
from shared.intake.rules import Checker
from shared.intake.unique import UniqueIds


class Count(Sink):
    def __init__(self) -> None:
        self.count = 0

    def add(self, request, part) -> None:  # type: ignore[no-untyped-def]
        self.count += 1


def read(data: bytes, kind: str = "jsonl", chunk: int = 1 << 16, **options):
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    opts = IntakeOptions(default_deployment="dep", **options)
    sink = Count()
    return read_input(chunks, sink, kind, opts), sink


def codes(intake) -> list[str]:
    return [p.code for p in intake.problems]


def request(cid: str, content: str = "hi", **body) -> bytes:
    message = {"role": "user", "content": content}
    return orjson.dumps({"custom_id": cid, "body": {"messages": [message], **body}}) + b"\n"


def test_a_file_over_the_request_limit_is_rejected_naming_the_setting_and_the_fix():
    data = b"".join(request(f"r{n}") for n in range(6))
    intake, sink = read(data, max_file_requests=5)
    assert not intake.ok and codes(intake) == ["too_many_requests"]
    message = intake.problems[0].message
    assert "more than 5 requests" in message and "BATCH_MAX_FILE_REQUESTS" in message
    assert "Split it" in message and "line 6" in message
    at_limit, sink = read(data, max_file_requests=6)
    assert at_limit.ok and at_limit.total == 6 and sink.count == 6


def test_reading_stops_at_the_request_limit_for_any_kind_of_file():
    lines = b"x\n" * 1000
    intake, _ = read(lines, "text", max_file_requests=10)
    assert codes(intake) == ["too_many_requests"] and intake.total == 11
    csv_rows = b"prompt\n" + lines
    intake, _ = read(csv_rows, "csv", max_file_requests=10)
    assert codes(intake) == ["too_many_requests"]


def test_a_long_line_of_nested_arrays_is_refused_before_it_is_parsed():
    dense = b'{"custom_id":"a","body":{"messages":[' + b"[]," * 600_000 + b"[]]}}\n"
    intake, _ = read(request("ok") + dense)
    assert codes(intake) == ["too_dense"]
    problem = intake.problems[0]
    assert problem.line == 2 and "at most 1,000,000" in problem.message
    assert text.too_dense(2, dense[:-1]) is not None


def test_commas_and_brackets_inside_strings_do_not_count_as_structure():
    prose = ", [a], {b}" * 400_000  # 4 MB of punctuation inside one prompt
    intake, sink = read(request("a", prose))
    assert intake.ok and sink.count == 1


def test_a_very_wide_object_is_refused_and_a_short_one_parses():
    keys = b'"k":1,' * 1_100_000 + b'"k":1'
    wide = b'{"custom_id":"w","body":{"messages":[{"role":"user","content":"x"}],' + keys + b"}}\n"
    intake, _ = read(wide)
    assert codes(intake) == ["too_dense"]
    assert text.too_dense(1, b"[" + b"1," * 1000 + b"1]") is None  # short: parsed as ever


def test_nesting_deeper_than_the_parser_allows_is_one_problem_per_line():
    deep = b'{"custom_id":"d","body":' + b'{"a":' * 100_000 + b"1" + b"}" * 100_001 + b"\n"
    intake, _ = read(request("ok") + deep * 3)
    assert codes(intake) == ["invalid_json"] * 3
    assert "1,024 levels" in intake.problems[0].message


def test_a_csv_header_with_too_many_columns_is_refused_before_it_is_split():
    header = b",".join(b"c%d" % n for n in range(MAX_COLUMNS + 1)) + b",prompt\n"
    intake, _ = read(header + b"x" * (MAX_COLUMNS + 1) + b"\n", "csv")
    assert codes(intake) == ["too_many_columns"]
    assert f"at most {MAX_COLUMNS:,}" in intake.problems[0].message


def test_a_long_csv_row_with_more_values_than_columns_is_refused_unsplit():
    row = b"a," * 200_000 + b"a\n"
    quoted = b'"' + b"a," * 200_000 + b'a"\n'  # one value holding the separators: fine
    intake, sink = read(b"prompt\n" + quoted + row, "csv")
    assert codes(intake) == ["wrong_column_count"]
    assert intake.problems[0].line == 3 and "at least 200,001 values" in intake.problems[0].message
    assert csv_input.least_values(b'x","y', b",") == 1  # inside a value begun earlier


def test_repairs_keep_only_the_names_they_show():
    lines = b"".join(
        orjson.dumps({"custom_id": f"r{n}", f"extra{n}" + "x" * 500: 1, "body": {"messages": [
            {"role": "user", "content": "q"}]}}) + b"\n"
        for n in range(200)
    )  # fmt: skip
    intake, _ = read(lines)
    [warning] = [w for w in intake.warnings if "Dropped top-level keys" in w]
    assert warning.count("extra") == MAX_NAMES and "on 200 line(s)" in warning
    assert len(warning) < 3000


def test_prompt_lines_with_endless_field_names_get_bounded_columns():
    count = MAX_COLUMNS + 5
    lines = b"".join(orjson.dumps({"prompt": "q", f"f{n}": n}) + b"\n" for n in range(count))
    intake, sink = read(lines)
    assert intake.ok and sink.count == count
    assert len(intake.input_columns) == MAX_COLUMNS
    assert any("Only the first 10,000 field names" in w for w in intake.warnings)


def test_a_problem_quoting_a_huge_value_stays_short():
    url = "/v1/" + "x" * 1_000_000
    line = orjson.dumps({"custom_id": "a", "url": url, "body": {"messages": []}}) + b"\n"
    intake, _ = read(line * 20)
    assert intake.problem_count == 20
    assert all(len(p.message) <= MAX_MESSAGE for p in intake.problems)
    assert intake.problems[0].message.endswith("[...]")


@pytest.mark.parametrize("dict_limit", [10**9, 0, 3])
def test_duplicate_custom_ids_are_found_in_the_compact_map_too(dict_limit):
    ids = UniqueIds(dict_limit=dict_limit, hash_of=lambda key: len(key))  # many collide
    assert [ids.first_line(f"id{n}", n + 1) for n in range(50)] == [None] * 50
    assert ids.first_line("id7", 99) == 8 and ids.first_line("id49", 100) == 50
    assert ids.first_line("new", 101) is None and len(ids) == 51


def test_the_checker_names_the_first_line_past_the_compact_switch(monkeypatch):
    monkeypatch.setattr(unique, "DICT_LIMIT", 100)  # the app's own threshold, made small
    intake, _ = read(b"".join(request(f"r{n % 500}") for n in range(501)))
    assert codes(intake) == ["duplicate_custom_id"]
    assert intake.problems[0].line == 501 and "on line 1;" in intake.problems[0].message
    assert Checker()  # the app's defaults build one


def test_two_values_on_one_line_with_the_same_custom_id_are_a_duplicate():
    value = request("same")[:-1]
    intake, _ = read(b"[" + value + b"," + value + b"]", "json")
    assert codes(intake) == ["duplicate_custom_id"]
