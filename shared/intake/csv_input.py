"""CSV input with a header row: one request per row, from its prompt column or the template.

The separator is a .tsv's tab, else chosen from the header row as the csv module reads it
(quotes respected); quoting is strict, so a quote never closed (or closed in the wrong place) is
one problem naming the line it opened on, never lines silently read as one value."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import TYPE_CHECKING, Any

from shared.intake.csv_quotes import RowText, quote_problem, unclosed_in_row
from shared.intake.lines import MAX_LINE_BYTES, LongLine
from shared.intake.model import MAX_COLUMNS, Intake
from shared.intake.problem import Problem
from shared.intake.prompts import Item, Prompts
from shared.intake.text import non_utf8, too_long

if TYPE_CHECKING:
    from shared.intake.options import IntakeOptions

DELIMITERS = (",", ";", "\t")  # in order of preference when the header fits several
NAMES = {";": "semicolon", "\t": "tab"}
CR_SPLIT = re.compile(r"(?<=\r)")  # keeps each \r with the text before it, as csv expects
WIDE_FROM = 1 << 16  # a row this long is measured before the csv module splits it
QUOTED = re.compile(rb'"[^"]*"')  # a quoted value (a doubled quote inside: two of them)
csv.field_size_limit(MAX_LINE_BYTES)  # the default (128 KiB) is less than a long prompt

Lines = Iterable[tuple[int, bytes]]


class CsvReader:
    """CSV with a header row: one request per row from its prompt column or the template."""

    def __init__(self, options: IntakeOptions, intake: Intake, delimiter: str | None) -> None:
        """`delimiter`: the separator the name fixes (a .tsv's tab), or None to choose it."""
        self.options = options
        self.intake = intake
        self.prompts = Prompts(options, intake)
        self.names: list[str] = []
        self.delimiter = delimiter
        self.named = delimiter  # the separator the file's name fixes
        self.row_text = RowText()
        self.unnamed: list[int] = []  # the header's columns without a name
        self.unnamed_seen: set[int] = set()  # unnamed columns already reported holding values
        self.intake.format = "csv"

    @property
    def columns(self) -> list[str]:
        return [n for n in self.names if n and n != "custom_id"]

    def items(self, lines: Lines) -> Iterator[Item]:
        text = self._text(lines)
        first = next(text, None)
        if first is None:
            return
        delimiter = self._delimiter(first)
        kept = self.row_text.through(chain((first,), text))
        rows = csv.reader(kept, delimiter=delimiter, strict=True)
        try:
            yield from self._rows(rows)
        except csv.Error as exc:  # quoting: the rows after it cannot be told apart
            self.intake.add_problem(quote_problem(self.row_text, delimiter, rows.line_num, exc))

    def _text(self, lines: Lines) -> Iterator[str]:
        """Decoded lines for the csv module; a line that is not UTF-8 is reported, not fatal."""
        for number, raw in lines:
            if type(raw) is LongLine:
                self.intake.add_problem(too_long(number, raw, self.options.max_line))
                yield "\n"
                continue
            wide = self._too_wide(number, raw)
            if wide is not None:  # parsed, it would take far more memory than its text
                self.intake.add_problem(wide)
                if not self.names:
                    return  # the header: no row can be read
                yield "\n"
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                message = f"Line {number} {non_utf8(raw)}."
                self.intake.add_problem(Problem(number, "not_utf8", message))
                text = raw.decode("utf-8", "replace")
            if "\r" in text:  # old Mac line ends, or a CR inside a quoted value
                yield from CR_SPLIT.split(text)[:-1]
            yield text.rpartition("\r")[2] + "\n"

    def _too_wide(self, number: int, raw: bytes) -> Problem | None:
        """A header of more than MAX_COLUMNS columns, or a long row with more values than the
        header has columns, found by counting separators outside quotes (C-fast)."""
        if self.names and len(raw) < WIDE_FROM:
            return None
        delimiters = [self.intake.delimiter] if self.names else list(DELIMITERS)
        values = max(least_values(raw, d.encode()) for d in delimiters)
        if not self.names and values > MAX_COLUMNS:
            return Problem(
                number,
                "too_many_columns",
                f"Line {number}: the header has {values:,} columns; at most {MAX_COLUMNS:,} "
                "can be read (each becomes a column of results.csv). Remove the columns the "
                "prompts do not need.",
            )
        if self.names and values > len(self.names):
            return _wrong_count(number, values, len(self.names), "at least ")
        return None

    def _delimiter(self, header: str) -> str:
        """The name's separator, else the one under which the header reads best."""
        best = self.delimiter or choose_delimiter(header, self._needed())
        if self.delimiter is None and best != ",":
            self.intake.repaired(f"Read the file as {NAMES[best]}-separated values", None)
        self.delimiter = self.intake.delimiter = best
        return best

    def _needed(self) -> tuple[str, ...]:
        template = self.options.settings.template
        return template.fields if template is not None else ("prompt",)

    def _rows(self, rows: Any) -> Iterator[Item]:
        header = next(rows, None)
        self.row_text.next_row(rows.line_num + 1)
        if header is None or not self._header(header):
            return
        start = rows.line_num + 1
        for row in rows:
            if any(cell.strip() for cell in row):
                yield self.row(start, row, rows.line_num)
            else:
                self.intake.repaired("Skipped empty rows", start)
            start = rows.line_num + 1
            self.row_text.next_row(start)

    def _header(self, header: list[str]) -> bool:
        """Check the header; False (with the problems reported) when no row can be read."""
        self.names = [name.strip() for name in header]
        problems = list(header_problems(self.names, self.options, self.named))
        for problem in problems:
            self.intake.add_problem(problem)
        self.unnamed = [i for i, name in enumerate(self.names) if not name]
        if self.unnamed:
            self.intake.repaired(
                f"Ignored column(s) {', '.join(str(i + 1) for i in self.unnamed)} without a name "
                "in the header row "
                "(they hold no values)",
                None,
            )
        self.prompts.check_deployment()
        return not problems

    def row(self, number: int, row: list[str], end: int) -> Item:
        """The request of the row on lines `number` to `end` (a quoted value may span lines)."""
        if len(row) != len(self.names):
            return self._wrong_count(number, len(row), end)
        values = dict(zip(self.names, row, strict=True))
        if self.unnamed:
            del values[""]
            for column in self.unnamed:
                if row[column].strip():
                    self._unnamed(number, column, row[column])
        custom_id = values.pop("custom_id", None)
        if custom_id is not None and not custom_id.strip():
            custom_id = None  # an empty cell is no id, like a missing column: the line number
        return self.prompts.request(number, values, custom_id)

    def _wrong_count(self, number: int, count: int, end: int) -> Problem:
        opened = unclosed_in_row(self.row_text, self.delimiter or ",") if end > number else None
        message = f"Line {number} has {count} values but the header has {len(self.names)} columns"
        if opened is None:
            message += "; quote values that hold the separator."
            return Problem(number, "wrong_column_count", message)
        message += (
            f": the quoted value that opens on line {opened} is closed only on line {end}, so "
            'those lines were read as one value. Close it with " where the value ends, and '
            'double every " that is part of the text ("").'
        )
        return Problem(number, "unclosed_quote", message)

    def _unnamed(self, number: int, column: int, cell: str) -> None:
        """A value in a column the header gives no name: it would be lost; said once a column."""
        if column in self.unnamed_seen:
            return
        self.unnamed_seen.add(column)
        shown = cell if len(cell) <= 40 else cell[:40] + "..."
        message = (
            f"Line {number}: column {column + 1} has no name in the header row but holds a value "
            f"({shown!r}), which would be lost; name the column in the header row, or remove it "
            "(a row index written by a spreadsheet or by pandas, say: to_csv(index=False))."
        )
        self.intake.add_problem(Problem(number, "unnamed_column", message))


def least_values(raw: bytes, delimiter: bytes) -> int:
    """The fewest values a CSV line can hold, whether it starts inside a quoted value (one
    begun on an earlier line) or not: separators inside quotes do not count."""
    outside = QUOTED.sub(b"", raw).count(delimiter)
    if b'"' not in raw:
        return outside + 1
    return min(outside, QUOTED.sub(b"", b'"' + raw).count(delimiter)) + 1


def _wrong_count(number: int, values: int, columns: int, least: str = "") -> Problem:
    message = (
        f"Line {number} has {least}{values:,} values but the header has {columns:,} "
        "columns; quote values that hold the separator."
    )
    return Problem(number, "wrong_column_count", message)


def header_problems(
    names: list[str], options: IntakeOptions, named: str | None = None
) -> Iterator[Problem]:
    """The header's problems; `named` is the separator the file's name fixes (a .tsv's tab)."""
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            message = f'Line 1: the header names column "{name}" twice; names must be unique.'
            yield Problem(1, "duplicate_column", message)
        seen.add(name)
    template = options.settings.template
    if template is not None:
        for field in template.missing(dict.fromkeys(names)):
            yield Problem(
                1,
                "missing_column",
                f'Line 1: the template names "{{{field}}}" but the header has no such column '
                f"(columns: {', '.join(n for n in names if n)}).",
            )
    elif "prompt" not in names:
        yield Problem(1, "missing_prompt_column", _no_prompt_column(names, named))


def _no_prompt_column(names: list[str], named: str | None) -> str:
    near = [n for n in names if n.lower() == "prompt"]
    hint = f' (found "{near[0]}": the name is case-sensitive)' if near else ""
    if named == "\t" and len(names) == 1 and any(sep in names[0] for sep in ",;"):
        hint = (
            f' (the file is named .tsv, so it is read as tab-separated and "{names[0]}" is one '
            "column: name it .csv if commas or semicolons separate its values)"
        )
    return (
        f'Line 1: the header has no "prompt" column{hint} and the folder\'s _job.json sets no '
        '"template"; add a prompt column or a template such as "Describe {name}".'
    )


def choose_delimiter(header: str, needed: tuple[str, ...]) -> str:
    """The separator under which the csv module reads the header line best: one that gives the
    columns the file needs (`prompt`, or the template's), then one whose quotes are only
    quoting (a separator inside a quoted name does not count), then the most columns; comma
    first on a tie."""
    return max(DELIMITERS, key=lambda d: _fit(header, d, needed))


def _fit(header: str, delimiter: str, needed: tuple[str, ...]) -> tuple[bool, bool, int]:
    try:
        names = next(csv.reader([header], delimiter=delimiter, strict=True), [])
    except csv.Error:  # a quote this separator leaves open: it does not read the header
        return (False, False, 0)
    stripped = {name.strip() for name in names}
    clean = not any('"' in name for name in names)  # a quote read as text: not its separator
    return (all(n in stripped for n in needed), clean, len(names))
