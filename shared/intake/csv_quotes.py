"""Where a CSV row's quoted value opened: the line a problem about an unclosed (or wrongly closed)
quote names, and its fix. The csv module says only where it noticed, often lines later."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from shared.intake.lines import MAX_LINE_BYTES
from shared.intake.problem import Problem

KEEP = 1 << 20  # characters of one row kept to find its quotes; a longer row is scanned in part
FIX = (
    'Close each quoted value with " right before the separator or the line end, and inside a '
    'quoted value double every " that is part of the text ("say ""hi""").'
)


class RowText:
    """The lines of the row the csv module is reading (up to KEEP characters), and its first
    line number; the reader starts a new row after each one it gets."""

    def __init__(self) -> None:
        self.first = 1
        self.lines: list[str] = []
        self.size = 0

    def through(self, lines: Iterable[str]) -> Iterator[str]:
        for text in lines:
            if self.size < KEEP:
                self.lines.append(text)
                self.size += len(text)
            yield text

    def next_row(self, first: int) -> None:
        self.first = first
        self.lines.clear()
        self.size = 0


def unclosed_in_row(row: RowText, delimiter: str) -> int | None:
    """The line on which the row's last quoted value opened, None if it has none: read as the
    csv module does (a quote opens a value only at its start; "" inside is one quote)."""
    opened, quoted, at_start = None, False, True
    for number, text in enumerate(row.lines, row.first):
        pos = 0
        while pos < len(text):
            if quoted:
                end = text.find('"', pos)
                if end < 0:
                    break  # the value goes on on the next line
                quoted = text.startswith('""', end)
                pos, at_start = end + (2 if quoted else 1), False
            elif at_start and text[pos] == '"':
                opened, quoted, pos = number, True, pos + 1
            else:
                end = text.find(delimiter, pos)
                if end < 0:
                    break
                pos, at_start = end + 1, True
        at_start = True
    return opened


def quote_problem(row: RowText, delimiter: str, line: int, exc: csv.Error) -> Problem:
    """The csv module's error at `line`, told from where the quoted value opened."""
    opened = unclosed_in_row(row, delimiter)
    why = str(exc)
    if opened is None:
        return Problem(line, "invalid_csv", f"Line {line}: the CSV cannot be read ({why}).")
    if "end of data" in why:
        what = (
            "opens here and is never closed: the file ends inside it, so every line after it "
            "would be read as part of one value"
        )
    elif "field larger" in why:
        what = f"opens here and is not closed within {MAX_LINE_BYTES >> 20} MiB"
    elif line > opened:
        what = (
            f"opens here and is closed only on line {line}, by a quote followed by more text, so "
            f"lines {opened} to {line} would be read as one value"
        )
    else:
        what = "is followed by more text after its closing quote"
    return Problem(opened, "unclosed_quote", f"Line {opened}: a quoted value {what}. {FIX}")
