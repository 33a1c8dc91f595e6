"""Read, validate, normalise and split an input file, streaming. Pure: bytes in, records out."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

BOM = b"\xef\xbb\xbf"
CHAT_URLS = frozenset({"/chat/completions", "/v1/chat/completions"})
RESPONSES_URLS = frozenset({"/v1/responses"})
KNOWN_URLS = CHAT_URLS | RESPONSES_URLS
MAX_CUSTOM_ID = 512
MAX_PROBLEMS = 10_000  # a report longer than this helps nobody; the count says how many more


@dataclass(frozen=True)
class Problem:
    """One reason the file cannot be submitted, with the line that has it."""

    line: int | None
    code: str
    message: str
    custom_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "custom_id": self.custom_id,
            "error": {"code": self.code, "message": self.message},
        }


@dataclass(frozen=True)
class Request:
    """A valid, normalised request line, ready to upload."""

    line: int
    custom_id: str
    url: str
    deployment: str
    body: dict[str, Any]

    def native(self) -> bytes:
        """The line as Azure expects it in the uploaded batch file."""
        return orjson.dumps(
            {"custom_id": self.custom_id, "method": "POST", "url": self.url, "body": self.body}
        )


@dataclass
class PartPlan:
    index: int
    deployment: str
    url: str
    count: int = 0
    bytes: int = 0


@dataclass
class Intake:
    """What reading a file produced: its parts, its problems, and safe repairs as warnings."""

    parts: list[PartPlan] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    total: int = 0
    warnings: list[str] = field(default_factory=list)

    def add_problem(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    @property
    def ok(self) -> bool:
        return self.problem_count == 0 and self.total > 0


def iter_lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """Yield (1-based line number, line without its line end) from a stream of byte chunks."""
    pending = b""
    number = 0
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            number += 1
            yield number, raw.rstrip(b"\r")
    if pending:
        yield number + 1, pending.rstrip(b"\r")


def parse_line(number: int, raw: bytes, default_deployment: str | None) -> Request | Problem:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Problem(number, "invalid_json", f"Line {number} is not valid JSON ({exc}).")
    if not isinstance(data, dict):
        return Problem(number, "not_an_object", f"Line {number} must be a JSON object.")
    custom_id = data.get("custom_id")
    problem = _check_custom_id(number, custom_id)
    if problem:
        return problem
    return _request(number, str(custom_id), data, default_deployment)


def _check_custom_id(number: int, custom_id: object) -> Problem | None:
    if not isinstance(custom_id, str) or not custom_id.strip():
        return Problem(
            number, "missing_custom_id", f'Line {number} needs a non-empty string "custom_id".'
        )
    if len(custom_id) > MAX_CUSTOM_ID:
        return Problem(
            number,
            "custom_id_too_long",
            f"Line {number}: custom_id is longer than {MAX_CUSTOM_ID} characters.",
            custom_id[:64],
        )
    return None


def _request(
    number: int, custom_id: str, data: dict[str, Any], default_deployment: str | None
) -> Request | Problem:
    method = data.get("method", "POST")
    if not isinstance(method, str) or method.upper() != "POST":
        return Problem(
            number,
            "unsupported_method",
            f"Line {number}: method must be POST, not {method!r}.",
            custom_id,
        )
    url = data.get("url", "/v1/chat/completions")
    if url not in KNOWN_URLS:
        return Problem(
            number,
            "unsupported_url",
            f"Line {number}: url {url!r} is not one of {sorted(KNOWN_URLS)}.",
            custom_id,
        )
    body = data.get("body")
    if not isinstance(body, dict):
        return Problem(number, "missing_body", f'Line {number} needs a "body" object.', custom_id)
    deployment = body.get("model") or default_deployment
    if not isinstance(deployment, str) or not deployment:
        return Problem(
            number,
            "missing_model",
            f"Line {number}: body.model is missing and AZURE_OPENAI_DEPLOYMENT "
            "is not set; name the Global-Batch deployment.",
            custom_id,
        )
    body = {**body, "model": deployment}
    return Request(number, custom_id, url, deployment, body)


class Splitter:
    """Assigns each request to a part: one per deployment, a new one when a part is full."""

    def __init__(self, max_requests: int, max_bytes: int) -> None:
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.parts: list[PartPlan] = []
        self._open: dict[str, PartPlan] = {}

    def place(self, request: Request, size: int) -> PartPlan:
        part = self._open.get(request.deployment)
        if part is None or self._full(part, size):
            part = PartPlan(len(self.parts), request.deployment, request.url)
            self.parts.append(part)
            self._open[request.deployment] = part
        part.count += 1
        part.bytes += size
        return part

    def _full(self, part: PartPlan, size: int) -> bool:
        return part.count + 1 > self.max_requests or part.bytes + size > self.max_bytes


class Checker:
    """File-wide rules: unique custom_id, one url per file."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._url: tuple[int, str] | None = None

    def check(self, request: Request) -> Problem | None:
        first = self._seen.setdefault(request.custom_id, request.line)
        if first != request.line:
            return Problem(
                request.line,
                "duplicate_custom_id",
                f"Line {request.line}: custom_id {request.custom_id!r} already used "
                f"on line {first}; each request needs its own.",
                request.custom_id,
            )
        if self._url is None:
            self._url = (request.line, request.url)
        elif _endpoint(self._url[1]) != _endpoint(request.url):
            return Problem(
                request.line,
                "mixed_url",
                f"Line {request.line}: url {request.url!r} differs from "
                f"{self._url[1]!r} on line {self._url[0]}; one file, one endpoint.",
                request.custom_id,
            )
        return None


def _endpoint(url: str) -> str:
    return "chat" if url in CHAT_URLS else "responses"


def strip_bom(lines: Iterator[tuple[int, bytes]], intake: Intake) -> Iterator[tuple[int, bytes]]:
    for number, raw in lines:
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
            intake.warnings.append("Removed a UTF-8 byte-order mark (Azure rejects it).")
        yield number, raw


class Sink:
    """Where accepted requests go (the work files); a no-op base for validation-only runs."""

    def add(self, request: Request, part: PartPlan, native: bytes) -> None:
        """Receive one accepted request, in input order."""


def read_native(
    chunks: Iterable[bytes],
    sink: Sink,
    *,
    default_deployment: str | None,
    max_requests: int,
    max_bytes: int,
) -> Intake:
    """Validate every line of a native batch JSONL stream and hand valid ones to the sink.

    Every problem is collected (not only the first) so one report says everything to fix; the
    caller must discard what the sink received when the result is not ok.
    """
    intake = Intake()
    splitter, checker = Splitter(max_requests, max_bytes), Checker()
    for number, raw in strip_bom(iter_lines(chunks), intake):
        if not raw.strip():
            continue  # blank lines (often a trailing one) carry no request
        intake.total += 1
        parsed = parse_line(number, raw, default_deployment)
        problem = parsed if isinstance(parsed, Problem) else checker.check(parsed)
        if problem is not None:
            intake.add_problem(problem)
        elif intake.problem_count == 0 and isinstance(parsed, Request):
            _accept(parsed, splitter, sink)
    if intake.total == 0:
        intake.add_problem(Problem(None, "empty_file", "The file holds no requests."))
    intake.parts = splitter.parts
    return intake


def _accept(request: Request, splitter: Splitter, sink: Sink) -> None:
    native = request.native()
    part = splitter.place(request, len(native) + 1)
    if request.url != part.url:  # same endpoint, other spelling: Azure wants one per file
        request = Request(
            request.line, request.custom_id, part.url, request.deployment, request.body
        )
        native = request.native()
    sink.add(request, part, native)
