"""CSV input with a header row: one request per row, from its prompt column or the template."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import TYPE_CHECKING, Any

from shared.intake.lines import MAX_LINE_BYTES, LongLine
from shared.intake.model import MAX_COLUMNS, Intake
from shared.intake.problem import Problem
from shared.intake.prompts import Item, Prompts
from shared.intake.text import non_utf8, too_long

if TYPE_CHECKING:
    from shared.intake.options import IntakeOptions

DELIMITERS = (",", ";", "\t")
CR_SPLIT = re.compile(r"(?<=\r)")  # keeps each \r with the text before it, as csv expects
WIDE_FROM = 1 << 16  # a row this long is measured before the csv module splits it
QUOTED = re.compile(rb'"[^"]*"')  # a quoted value (a doubled quote inside: two of them)
csv.field_size_limit(MAX_LINE_BYTES)  # the default (128 KiB) is less than a long prompt

Lines = Iterable[tuple[int, bytes]]


class CsvReader:
    """CSV with a header row: one request per row from its prompt column or the template."""

    def __init__(self, options: IntakeOptions, intake: Intake) -> None:
        self.options = options
        self.intake = intake
        self.prompts = Prompts(options, intake)
        self.names: list[str] = []
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
        rows = csv.reader(chain((first,), text), delimiter=delimiter)
        try:
            yield from self._rows(rows)
        except csv.Error as exc:
            self.intake.add_problem(_csv_error(rows.line_num, exc))

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
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(DELIMITERS, key=lambda d: counts[d])
        if counts[best] and best != ",":
            name = "semicolon" if best == ";" else "tab"
            self.intake.repaired(f"Read the file as {name}-separated values", None)
            self.intake.delimiter = best
            return best
        return ","

    def _rows(self, rows: Any) -> Iterator[Item]:
        header = next(rows, None)
        if header is None or not self._header(header):
            return
        start = rows.line_num + 1
        for row in rows:
            if any(cell.strip() for cell in row):
                yield self.row(start, row)
            else:
                self.intake.repaired("Skipped empty rows", start)
            start = rows.line_num + 1

    def _header(self, header: list[str]) -> bool:
        """Check the header; False (with the problems reported) when no row can be read."""
        self.names = [name.strip() for name in header]
        problems = list(header_problems(self.names, self.options))
        for problem in problems:
            self.intake.add_problem(problem)
        if "" in self.names:
            self.intake.repaired("Ignored columns without a name in the header row", None)
        self.prompts.check_deployment()
        return not problems

    def row(self, number: int, row: list[str]) -> Item:
        if len(row) != len(self.names):
            return _wrong_count(number, len(row), len(self.names))
        values = {name: cell for name, cell in zip(self.names, row, strict=True) if name}
        custom_id = values.pop("custom_id", None)
        return self.prompts.request(number, values, custom_id)


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


def header_problems(names: list[str], options: IntakeOptions) -> Iterator[Problem]:
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
        yield Problem(1, "missing_prompt_column", _no_prompt_column(names))


def _no_prompt_column(names: list[str]) -> str:
    near = [n for n in names if n.lower() == "prompt"]
    hint = f' (found "{near[0]}": the name is case-sensitive)' if near else ""
    return (
        f'Line 1: the header has no "prompt" column{hint} and the folder\'s _job.json sets no '
        '"template"; add a prompt column or a template such as "Describe {name}".'
    )


def _csv_error(line: int, exc: csv.Error) -> Problem:
    return Problem(
        line,
        "invalid_csv",
        f"Line {line}: the CSV cannot be read ({exc}); is a quoted value never closed?",
    )
