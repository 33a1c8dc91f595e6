"""`.json` files: a JSON array of requests or prompt objects, or such objects one after another
(pretty-printed or not). Each object is checked like a JSON Lines line; its line is the line
where it starts. Streamed from the raw chunks (a compact array is one huge line): one value is
held at a time."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Protocol

from shared.intake.formats import not_an_object
from shared.intake.lines import LongLine
from shared.intake.problem import Problem

if TYPE_CHECKING:
    from shared.intake.model import Request

# A whole string (skipped, so brackets inside it do not count), a bracket, or a quote whose
# string does not end in this chunk. A JSON string cannot hold a raw line break.
TOKENS = re.compile(rb'"(?:[^"\\\n]|\\.)*"|[\[\]{}]|"')
STRING_REST = re.compile(rb'(?:[^"\\\n]|\\.)*')
CONTENT = re.compile(rb"\S")
SCALAR_END = {"array": re.compile(rb"[,\]]"), "values": re.compile(rb"\n")}
OPEN, CLOSE = b"[{", b"]}"

Value = tuple[int, bytes | Problem]


class LineReader(Protocol):
    """What checks one value as if it were a JSON Lines line (jsonl.JsonlReader)."""

    @property
    def columns(self) -> list[str]: ...

    def line(self, number: int, raw: bytes, default_id: str | None = None) -> Request | Problem: ...


class JsonReader:
    """The values of a `.json` file, each handed to the JSON Lines checks as if it were a line."""

    whole_stream = True  # reads the raw chunks, not lines

    def __init__(self, lines: LineReader, max_bytes: int) -> None:
        self.lines = lines
        self.max_bytes = max_bytes

    @property
    def columns(self) -> list[str]:
        return self.lines.columns

    def items(self, chunks: Iterable[bytes]) -> Iterator[Request | Problem]:
        """Values in order; a prompt object without custom_id gets its position (1, 2, ...),
        as several may start on one line."""
        position = 0
        scanner = Scanner(self.max_bytes)
        for number, value in scanner.values(chunks):
            if isinstance(value, Problem):
                yield value
                continue
            position += 1
            wrong = not_an_object(number, position, value, scanner.mode == "array")
            yield wrong or self.lines.line(number, value, str(position))


class Scanner:
    """Splits JSON text into its top-level values, or into the elements of one top-level array,
    counting brackets outside strings."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.mode = ""  # "array": one array whose elements are the values; "values": one by one
        self.closed = False  # the array's closing bracket was seen
        self.stopped = False  # text after the array: the rest is not read
        self.depth = 0  # nesting inside the open value
        self.start = 0  # the line the open value starts on (0: none open)
        self.scalar = False  # the open value does not start with a bracket
        self.in_string = False  # the chunk ended inside a string ...
        self.escaped = False  # ... right after a backslash
        self.pieces: list[bytes] = []  # the open value's text from earlier chunks
        self.size = 0
        self.buf, self.pos, self.begin = b"", 0, 0  # the chunk, where we are, the value's start
        self.line, self.counted = 1, 0  # the line number at offset `counted` of the chunk

    def values(self, chunks: Iterable[bytes]) -> Iterator[Value]:
        for chunk in chunks:
            self._load(chunk)
            yield from self._scan()
            if self.stopped:
                return
        self._load(b"")
        if self.start:
            yield self._take()
        if self.mode == "array" and not self.closed:
            yield 0, Problem(None, "unclosed_array", "The JSON array is never closed with ].")

    def _load(self, chunk: bytes) -> None:
        """Keep the open value's text and count the lines of the chunk done; take the next."""
        if self.start:
            self._add(self.buf[self.begin :])
        self.line += self.buf.count(b"\n", self.counted)
        self.buf, self.pos, self.begin, self.counted = chunk, 0, 0, 0

    def _scan(self) -> Iterator[Value]:
        while self.pos < len(self.buf) and not self.stopped:
            if self.in_string:
                self._string_rest()
                continue
            value = self._begin() if not self.start else self._advance()
            if value is not None:
                yield value

    def _string_rest(self) -> None:
        """Through a string that began in an earlier chunk."""
        pos = self.pos + 1 if self.escaped else self.pos
        self.escaped = False
        found = STRING_REST.match(self.buf, pos)
        end = found.end() if found else pos
        if end >= len(self.buf):
            self.pos = len(self.buf)
            return
        if self.buf[end] == ord("\\"):  # the escaped character is in the next chunk
            self.escaped, self.pos = True, end + 1
            return
        self.in_string = False
        self.pos = end + 1 if self.buf[end] == ord('"') else end  # a line break: bad JSON

    def _begin(self) -> Value | None:
        """Outside any value: separators, the array's brackets, or where the next value starts."""
        found = CONTENT.search(self.buf, self.pos)
        if found is None:
            self.pos = len(self.buf)
            return None
        pos, char = found.start(), self.buf[found.start()]
        self.pos = pos + 1
        if not self.mode:
            self.mode = "array" if char == ord("[") else "values"
            if self.mode == "array":
                return None
        if self.mode == "array":
            if self.closed:
                self.stopped = True
                return self._line_at(pos), _after_array(self._line_at(pos))
            if char in b",]":
                self.closed = char == ord("]")
                return None
        self.start, self.begin, self.pos = self._line_at(pos), pos, pos
        self.scalar = char not in OPEN
        return None

    def _advance(self) -> Value | None:
        """Inside a value: on to where it closes, or to the end of the chunk."""
        if self.scalar:
            end = SCALAR_END[self.mode].search(self.buf, self.pos)
            return self._rest() if end is None else self._close(end.start())
        for token in TOKENS.finditer(self.buf, self.pos):
            char = self.buf[token.start()]
            if char in OPEN:
                self.depth += 1
            elif char in CLOSE:
                self.depth -= 1
                if self.depth <= 0:
                    return self._close(token.end())
            elif token.end() - token.start() == 1:  # a string that goes on in the next chunk
                self.in_string, self.pos = True, token.end()
                return None
        return self._rest()

    def _rest(self) -> Value | None:
        """The value goes on in the next chunk."""
        self.pos = len(self.buf)
        return None

    def _close(self, end: int) -> Value:
        self._add(self.buf[self.begin : end])
        self.pos = end
        return self._take()

    def _line_at(self, pos: int) -> int:
        self.line += self.buf.count(b"\n", self.counted, pos)
        self.counted = pos
        return self.line

    def _add(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size <= self.max_bytes:
            self.pieces.append(piece)
        else:
            self.pieces.clear()  # too long to use: its memory goes now, its length is kept

    def _take(self) -> Value:
        start, size = self.start, self.size
        raw = b"".join(self.pieces).strip()
        self.start, self.depth, self.pieces, self.size = 0, 0, [], 0
        return start, (LongLine.of(size) if size > self.max_bytes else raw)


def _after_array(number: int) -> Problem:
    return Problem(
        number,
        "text_after_array",
        f"Line {number}: there is text after the JSON array's closing ]; a .json file holds one "
        "array of requests, or request objects one after another.",
    )
