"""CSV files read as their users wrote them: quotes that never close (or close in the wrong
place) named at the line they opened on, the separator from a .tsv's name or from the header as
the csv module reads it, unnamed columns, empty custom_id cells."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.intake.csv_input import DELIMITERS, choose_delimiter
from tests.unit.test_formats import codes, read
from tests.unit.test_formats import settings as folder

# --- quotes --------------------------------------------------------------------------------------


def test_a_quote_never_closed_is_a_problem_at_the_line_it_opened_on():
    intake, _ = read(b'prompt\nfirst\n"second\nthird\nfourth\n', kind="csv")
    assert codes(intake) == [(3, "unclosed_quote")] and not intake.ok
    message = intake.problems[0].message
    assert message.startswith("Line 3: a quoted value opens here and is never closed")
    assert '""' in message  # the fix: close it, or double a quote that is text
    # In a later column, after a quoted value that spans lines and closes properly.
    data = b'prompt,note\n"two\nlines","a\nb\n'
    assert codes(read(data, kind="csv")[0]) == [(3, "unclosed_quote")]


def test_a_quote_closed_lines_later_names_both_lines_and_never_blames_the_separator():
    data = b'prompt,id\nfirst,1\n"second,2\nthird,3\n"fourth",4\n'
    intake, _ = read(data, kind="csv")
    assert codes(intake) == [(3, "unclosed_quote")]
    assert "closed only on line 5" in intake.problems[0].message
    # Closed by a lone quote: the row reads, but with the wrong count of values.
    intake, _ = read(b'prompt,id\n"oops,1\nnext,2\n"\nlast,3\n', kind="csv")
    assert codes(intake) == [(2, "unclosed_quote")]
    message = intake.problems[0].message
    assert "opens on line 2 is closed only on line 4" in message
    assert "quote values that hold the separator" not in message


def test_text_after_a_closing_quote_is_a_problem_on_its_line():
    intake, _ = read(b'prompt,id\nok,1\n"Hello" world,2\n', kind="csv")
    assert codes(intake) == [(3, "unclosed_quote")]
    assert "more text after its closing quote" in intake.problems[0].message


def test_quoted_values_over_several_lines_with_doubled_quotes_still_read():
    data = b'prompt,id\n"say ""hi""\nand, then,\nbye",1\nplain "quote" inside,2\n'
    intake, requests = read(data, kind="csv")
    assert intake.ok, intake.problems
    assert [r.input["prompt"] for r in requests] == [
        'say "hi"\nand, then,\nbye',
        'plain "quote" inside',
    ]
    assert [r.line for r in requests] == [2, 5]


def test_a_wrong_count_on_one_line_still_says_to_quote_the_separator():
    intake, _ = read(b"prompt,lang\nhello,en\nhi,en,extra\n", kind="csv")
    assert codes(intake) == [(3, "wrong_column_count")]
    assert "quote values that hold the separator" in intake.problems[0].message


# --- the separator -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "needed", "expected"),
    [
        ('prompt,"notes; remarks; misc"', ("prompt",), ","),
        ('prompt;"a, b";c', ("prompt",), ";"),
        ("prompt\tcomment (a, b, c)", ("prompt",), "\t"),
        ("prompt,notes (a; b)", ("prompt",), ","),
        ("prompt", ("prompt",), ","),
        ('building;"city, country"', ("building",), ";"),
        ('question,"notes; misc"', ("prompt",), ","),  # no prompt either way: quotes decide
    ],
)
def test_the_separator_is_the_one_the_header_reads_under(header, needed, expected):
    assert choose_delimiter(header, needed) == expected


name = st.text(alphabet='ab ,;\t"()', min_size=1, max_size=8).filter(
    lambda n: n == n.strip() and n[0] not in ",;" and n[-1] not in ",;"
)


@settings(max_examples=300, deadline=None)
@given(
    before=st.lists(name, max_size=3),
    after=st.lists(name, max_size=3),
    delimiter=st.sampled_from(DELIMITERS),
)
def test_a_header_written_by_the_csv_module_is_read_back_as_written(before, after, delimiter):
    names = [*before, "prompt", *after]
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerow(names)
    chosen = choose_delimiter(out.getvalue(), ("prompt",))
    assert next(csv.reader([out.getvalue()], delimiter=chosen)) == names
    if len(names) > 1:
        assert chosen == delimiter


def test_a_tsv_is_read_with_tabs_whatever_its_header_holds():
    intake, requests = read(b"prompt\tcomment (a, b, c)\nSay hi\tok\n", kind="tsv")
    assert intake.ok and intake.delimiter == "\t"
    assert requests[0].input == {"prompt": "Say hi", "comment (a, b, c)": "ok"}
    assert not any("separated" in w for w in intake.warnings)  # the name said so: no repair
    intake, _ = read(b"prompt,lang\nhi,en\n", kind="tsv")  # a comma CSV named .tsv
    assert codes(intake) == [(1, "missing_prompt_column")]
    assert "tab" in intake.problems[0].message and ".csv" in intake.problems[0].message


def test_quoted_header_names_keep_their_separators():
    intake, requests = read(b'prompt,"notes; remarks"\nSay hi,ok\n', kind="csv")
    assert intake.ok and intake.delimiter == ","
    assert requests[0].input == {"prompt": "Say hi", "notes; remarks": "ok"}
    folder_template = folder(template="About {building}")
    data = b'building;"city, country"\nEiffel Tower;"Paris, France"\n'
    intake, requests = read(data, kind="csv", settings=folder_template)
    assert intake.ok and intake.delimiter == ";"
    assert requests[0].input == {"building": "Eiffel Tower", "city, country": "Paris, France"}


# --- unnamed columns, empty ids ------------------------------------------------------------------


def test_an_unnamed_column_holding_values_is_one_problem_per_column():
    intake, _ = read(b",prompt,\n0,Say hi,\n1,Say bye,x\n2,Again,y\n", kind="csv")
    assert codes(intake) == [(2, "unnamed_column"), (3, "unnamed_column")]
    assert "column 1 has no name" in intake.problems[0].message
    assert "column 3 has no name" in intake.problems[1].message
    assert "'x'" in intake.problems[1].message


def test_an_empty_unnamed_column_is_a_warning_naming_it():
    intake, requests = read(b"prompt,,note\nhi,,n\nho, ,m\n", kind="csv")
    assert intake.ok and requests[0].input == {"prompt": "hi", "note": "n"}
    assert any("Ignored column(s) 2 without a name" in w for w in intake.warnings)


def test_an_empty_custom_id_cell_is_the_line_number():
    data = b"custom_id,prompt\nfirst,Say hi\n,Say bye\n  ,Again\n"
    intake, requests = read(data, kind="csv")
    assert intake.ok, intake.problems
    assert [r.custom_id for r in requests] == ["first", "3", "4"]
