"""Read, validate, normalise and split an input file, streaming. Pure: bytes in, records out."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain
from typing import TYPE_CHECKING, Any, Protocol

from shared.batches.split import Splitter
from shared.intake.csv_input import CsvReader
from shared.intake.formats import TABLES, UNSUPPORTED, file_kind, unsupported
from shared.intake.json_input import JsonReader
from shared.intake.jsonl import JsonlReader
from shared.intake.lines import iter_lines
from shared.intake.model import Intake, Request, Sink, endpoint_of
from shared.intake.problem import Problem
from shared.intake.rules import Checker, too_many_requests
from shared.intake.text import SNIFF_BYTES, sniff
from shared.intake.text_input import TextReader

if TYPE_CHECKING:
    from shared.intake.options import IntakeOptions

BOM = b"\xef\xbb\xbf"
__all__ = ["BOM", "Sink", "file_kind", "read_input"]


def read_input(chunks: Iterable[bytes], sink: Sink, kind: str, options: IntakeOptions) -> Intake:
    """Validate every line of an input stream and hand valid requests to the sink.

    Every problem is collected (not only the first) so one report says everything to fix; the
    sink stops receiving at the first problem, and the caller must discard what it received
    when the result is not ok.
    """
    intake = Intake(json_schema=options.settings.json_schema, endpoint=endpoint_of(options.url))
    intake.warnings.extend(options.settings.warnings)
    stream = _text_stream(iter(chunks), intake, kind)
    if stream is None:
        return intake.finish()
    reader = _reader(kind, options, intake)
    splitter = Splitter(options.max_requests, options.max_bytes, options.max_tokens)
    check, place, add = Checker(options, intake).check, splitter.place, sink.add
    total, limit = 0, options.max_file_requests
    source = stream if isinstance(reader, JsonReader) else iter_lines(stream, options.max_line)
    for item in reader.items(source):
        total += 1
        if total > limit:  # what intake and merge hold grows with the requests: stop here
            intake.add_problem(too_many_requests(item.line, limit))
            break
        problem = item if isinstance(item, Problem) else check(item)
        if problem is not None:
            intake.add_problem(problem)
        elif intake.problem_count == 0 and isinstance(item, Request):
            add(item, place(item.deployment, item.url, item.native_size, item.tokens))
    intake.total = total
    intake.parts = splitter.parts
    intake.input_columns = reader.columns
    return intake.finish()


class Reader(Protocol):
    """Turns an input's numbered lines into requests and problems."""

    @property
    def columns(self) -> list[str]: ...

    def items(self, source: Any) -> Iterator[Request | Problem]:
        """Requests and problems from numbered lines (JsonReader: from the raw chunks)."""


def _reader(kind: str, options: IntakeOptions, intake: Intake) -> Reader:
    if kind in TABLES:
        return CsvReader(options, intake, TABLES[kind])
    if kind == "text":
        return TextReader(options, intake)
    if kind == "json":
        return JsonReader(JsonlReader(options, intake), options.max_line)
    return JsonlReader(options, intake)


def _text_stream(chunks: Iterator[bytes], intake: Intake, kind: str) -> Iterator[bytes] | None:
    """The stream with a UTF-8 BOM removed; None when it is not UTF-8 text at all."""
    head = _head(chunks, SNIFF_BYTES)
    if head.startswith(BOM):
        head = head[len(BOM) :]
        intake.repaired("Removed a UTF-8 byte-order mark (Azure rejects it).", None)
    problem = sniff(head)
    if problem is None and kind == UNSUPPORTED:
        problem = unsupported(head)
    if problem is not None:
        intake.add_problem(problem)
        return None
    if kind not in TABLES and b"\r\n" in head[: 1 << 16]:  # CSV's own standard line end
        intake.repaired("Accepted Windows (CRLF) line ends.", None)
    return chain((head,), chunks)


def _head(chunks: Iterator[bytes], size: int) -> bytes:
    """At least `size` bytes from the start of the stream (all of it if shorter)."""
    parts: list[bytes] = []
    got = 0
    for chunk in chunks:
        parts.append(chunk)
        got += len(chunk)
        if got >= size:
            break
    return b"".join(parts)
