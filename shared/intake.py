"""Read, validate, normalise and split an input file, streaming. Pure: bytes in, records out."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain

from .formats import CsvReader, JsonlReader
from .intake_model import (
    CHAT_URLS,
    KNOWN_URLS,
    MAX_PROBLEMS,
    RESPONSES_URLS,
    Intake,
    PartPlan,
    Problem,
    Request,
    endpoint_of,
)
from .lines import LongLine, iter_lines
from .options import Options
from .rawtext import SNIFF_BYTES, sniff

__all__ = [
    "BOM",
    "CHAT_URLS",
    "KNOWN_URLS",
    "MAX_PROBLEMS",
    "RESPONSES_URLS",
    "Checker",
    "Intake",
    "LongLine",
    "Options",
    "PartPlan",
    "Problem",
    "Request",
    "Sink",
    "Splitter",
    "file_kind",
    "iter_lines",
    "read_input",
    "read_native",
]

BOM = b"\xef\xbb\xbf"
CSV_SUFFIXES = (".csv", ".tsv")


def file_kind(name: str) -> str:
    """csv for .csv/.tsv names; everything else is read as JSON Lines (and sniffed first)."""
    return "csv" if name.lower().endswith(CSV_SUFFIXES) else "jsonl"


class Splitter:
    """Assigns each request to a part: one per deployment, a new one when a part is full."""

    def __init__(self, max_requests: int, max_bytes: int, max_tokens: int = 0) -> None:
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.max_tokens = max_tokens
        self.parts: list[PartPlan] = []
        self._open: dict[str, PartPlan] = {}

    def place(self, request: Request, size: int) -> PartPlan:
        """The part for a request whose uploaded line takes `size` bytes (line end included)."""
        part = self._open.get(request.deployment)
        tokens = request.tokens if self.max_tokens else 0
        if part is None or self._full(part, size, tokens):
            part = self._new(request)
        part.count += 1
        part.bytes += size
        part.tokens += tokens
        return part

    def assign(self, request: Request) -> PartPlan:
        """Place the request; its uploaded line uses its part's url spelling (Azure wants one
        spelling per file; chat has two)."""
        part = self._open.get(request.deployment)
        size = request.native_size(request.url if part is None else part.url)
        tokens = request.tokens if self.max_tokens else 0
        if part is None or self._full(part, size, tokens):
            if part is not None and part.url != request.url:
                size = request.native_size(request.url)  # a new part takes the request's own
            part = self._new(request)
        part.count += 1
        part.bytes += size
        part.tokens += tokens
        return part

    def _new(self, request: Request) -> PartPlan:
        part = PartPlan(len(self.parts), request.deployment, request.url)
        self.parts.append(part)
        self._open[request.deployment] = part
        return part

    def _full(self, part: PartPlan, size: int, tokens: int) -> bool:
        return (
            part.count + 1 > self.max_requests
            or part.bytes + size > self.max_bytes
            or (self.max_tokens > 0 and part.tokens + tokens > self.max_tokens)
        )


class Checker:
    """File-wide rules: unique custom_id, allowed deployments, what fits in a batch."""

    def __init__(self, options: Options | None = None) -> None:
        options = options or Options()
        self._allowed = options.allowed_deployments
        self._max_bytes = options.max_bytes
        self._max_tokens = options.max_tokens
        self._seen: dict[str, int] = {}

    def check(self, request: Request) -> Problem | None:
        first = self._seen.setdefault(request.custom_id, request.line)
        if first != request.line:
            return _duplicate(request, first)
        if self._allowed and request.deployment not in self._allowed and request.deployment:
            return _not_allowed(request, self._allowed)
        if len(request.body_json) + 6 * len(request.custom_id) + 80 > self._max_bytes:
            if len(request.native()) + 1 > self._max_bytes:
                return _too_large(request, self._max_bytes)
        if self._max_tokens and request.tokens > self._max_tokens:
            return _too_many_tokens(request, self._max_tokens)
        return None


def _duplicate(request: Request, first: int) -> Problem:
    return Problem(
        request.line,
        "duplicate_custom_id",
        f"Line {request.line}: custom_id {request.custom_id!r} already used "
        f"on line {first}; each request needs its own.",
        request.custom_id,
    )


def _not_allowed(request: Request, allowed: frozenset[str]) -> Problem:
    return Problem(
        request.line,
        "deployment_not_allowed",
        f"Line {request.line}: deployment {request.deployment!r} is not allowed here; "
        f"use one of {', '.join(sorted(allowed))} (BATCH_ALLOWED_DEPLOYMENTS).",
        request.custom_id,
    )


def _too_large(request: Request, limit: int) -> Problem:
    return Problem(
        request.line,
        "too_large",
        f"Line {request.line}: the request is larger than a whole batch file may be "
        f"({limit:,} bytes, BATCH_MAX_BYTES).",
        request.custom_id,
    )


def _too_many_tokens(request: Request, limit: int) -> Problem:
    return Problem(
        request.line,
        "too_many_tokens",
        f"Line {request.line}: the request alone is about {request.tokens:,} tokens, more "
        f"than one batch may enqueue (BATCH_MAX_TOKENS = {limit:,}).",
        request.custom_id,
    )


class Sink:
    """Where accepted requests go (the work files); a no-op base for validation-only runs."""

    def add(self, request: Request, part: PartPlan) -> None:
        """Receive one accepted request, in input order; its uploaded line is
        request.native_pieces(part.url) (or request.native(part.url))."""


def read_input(chunks: Iterable[bytes], sink: Sink, kind: str, options: Options) -> Intake:
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
    reader = CsvReader(options, intake) if kind == "csv" else JsonlReader(options, intake)
    splitter = Splitter(options.max_requests, options.max_bytes, options.max_tokens)
    check, assign, add = Checker(options).check, splitter.assign, sink.add
    total = 0
    for item in reader.items(iter_lines(stream, options.max_line)):
        total += 1
        problem = item if isinstance(item, Problem) else check(item)
        if problem is not None:
            intake.add_problem(problem)
        elif intake.problem_count == 0 and isinstance(item, Request):
            add(item, assign(item))
    intake.total = total
    intake.parts = splitter.parts
    intake.input_columns = reader.columns
    return intake.finish()


def _text_stream(chunks: Iterator[bytes], intake: Intake, kind: str) -> Iterator[bytes] | None:
    """The stream with a UTF-8 BOM removed; None when it is not UTF-8 text at all."""
    head = _head(chunks, SNIFF_BYTES)
    if head.startswith(BOM):
        head = head[len(BOM) :]
        intake.repaired("Removed a UTF-8 byte-order mark (Azure rejects it).", None)
    problem = sniff(head)
    if problem is not None:
        intake.add_problem(problem)
        return None
    if kind != "csv" and b"\r\n" in head[: 1 << 16]:  # CSV's own standard line end
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


def read_native(
    chunks: Iterable[bytes],
    sink: Sink,
    *,
    default_deployment: str | None,
    max_requests: int,
    max_bytes: int,
) -> Intake:
    """JSON Lines with the app's defaults and no folder settings (kept for callers and tests)."""
    options = Options(
        default_deployment=default_deployment, max_requests=max_requests, max_bytes=max_bytes
    )
    return read_input(chunks, sink, "jsonl", options)
