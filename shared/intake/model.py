"""The values intake produces: problems, requests, parts, repairs and the report of one file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from shared.batches.batchfile import CHAT_URLS, native_pieces, native_size
from shared.intake.problem import Problem

if TYPE_CHECKING:
    from shared.batches.split import PartPlan

URL_FOR = {"chat": "/v1/chat/completions", "responses": "/v1/responses"}
MAX_PROBLEMS = 10_000  # a report longer than this helps nobody; the count says how many more
MAX_COLUMNS = 10_000  # input columns (CSV, prompt fields): each becomes one of results.csv
MAX_NAMES = 20  # names a repair lists (the first seen); longer ones are cut
MAX_NAME = 100
CHARS_PER_TOKEN = 4  # the service estimates enqueued tokens from characters, roughly like this


def endpoint_of(url: str) -> str:
    return "chat" if url in CHAT_URLS else "responses"


class Request:
    """A valid, normalised request, ready to upload; its body is encoded once and reused."""

    __slots__ = ("line", "custom_id", "url", "deployment", "body", "input", "body_json", "id_json")

    def __init__(
        self,
        line: int,
        custom_id: str,
        url: str,
        deployment: str,
        body: dict[str, Any],
        input: dict[str, Any] | None = None,  # noqa: A002 - the name results.jsonl uses
        body_json: bytes | None = None,
    ) -> None:
        self.line = line
        self.custom_id = custom_id
        self.url = url
        self.deployment = deployment
        self.body = body
        self.input = input
        self.body_json = orjson.dumps(body) if body_json is None else body_json
        self.id_json = orjson.dumps(custom_id)

    @property
    def tokens(self) -> int:
        """About how many input tokens the service will count for this request."""
        return len(self.body_json) // CHARS_PER_TOKEN + 1

    def native(self, url: str | None = None) -> bytes:
        """The line as Azure expects it in the uploaded batch file (optionally with another url
        spelling of the same endpoint, since Azure wants one spelling per file)."""
        return b"".join(self.native_pieces(url or self.url))[:-1]

    def native_pieces(self, url: str) -> tuple[bytes, ...]:
        """The uploaded line and its line end, in pieces (the body is not copied)."""
        return native_pieces(self.id_json, url, self.body_json)

    def native_size(self, url: str) -> int:
        """len(b"".join(self.native_pieces(url))), without building it."""
        return native_size(self.id_json, url, self.body_json)

    def index_pieces(self, part: int) -> tuple[bytes, ...]:
        """The work-index line the merge reads, {"line", "custom_id", "part", "request"
        [, "input"]}, and its line end, in pieces."""
        head = INDEX_HEAD % (self.line, self.id_json, part)
        if self.input is None:
            return head, self.body_json, b"}\n"
        return head, self.body_json, b',"input":', self.input_json, b"}\n"

    @property
    def input_json(self) -> bytes:
        return orjson.dumps(self.input)


INDEX_HEAD = b'{"line":%d,"custom_id":%b,"part":%d,"request":'


@dataclass
class Repair:
    """One kind of safe repair, counted over the file and reported once."""

    text: str
    count: int = 0
    first: int | None = None
    names: dict[str, None] = field(default_factory=dict)  # an ordered set

    def render(self) -> str:
        text = self.text.replace("{names}", ", ".join(self.names))
        if self.first is None:
            return text
        return f"{text} on {self.count} line(s), first on line {self.first}."


@dataclass
class Intake:
    """What reading a file produced: its parts, its problems, and safe repairs as warnings."""

    parts: list[PartPlan] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    total: int = 0
    warnings: list[str] = field(default_factory=list)
    format: str = "native"  # native | prompt | csv
    endpoint: str = "chat"  # chat | responses
    input_columns: list[str] = field(default_factory=list)
    delimiter: str = ","  # a CSV input's separator
    json_schema: dict[str, Any] | None = None
    repairs: dict[str, Repair] = field(default_factory=dict)
    first_url: tuple[int, str] | None = None

    def add_problem(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def repaired(self, text: str, line: int | None, names: Iterable[str] = ()) -> None:
        """Count a safe repair; `text` may hold {names}, filled from every line's names."""
        repair = self.repairs.get(text)
        if repair is None:
            repair = self.repairs[text] = Repair(text, first=line)
        repair.count += 1
        for name in names:  # only the first few are shown: only they are kept
            if len(repair.names) >= MAX_NAMES:
                break
            repair.names.setdefault(name[:MAX_NAME])

    def check_url(self, number: int, url: str, custom_id: str) -> Problem | None:
        """One endpoint per file (Azure's rule); the first line with a url sets it."""
        if self.first_url is None:
            self.first_url = (number, url)
            self.endpoint = endpoint_of(url)
            return None
        if endpoint_of(url) == self.endpoint:
            return None
        first_line, first_url = self.first_url
        return Problem(
            number,
            "mixed_url",
            f"Line {number}: url {url!r} differs from {first_url!r} on line {first_line}; "
            "one file, one endpoint.",
            custom_id,
        )

    def finish(self) -> Intake:
        self.warnings.extend(r.render() for r in self.repairs.values())
        self.repairs.clear()
        if self.total == 0 and self.problem_count == 0:
            self.add_problem(Problem(None, "empty_file", "The file holds no requests."))
        return self

    @property
    def ok(self) -> bool:
        return self.problem_count == 0 and self.total > 0


def rejected(problems: Iterable[Problem], warnings: Iterable[str] = ()) -> Intake:
    """An Intake for a file refused before its lines were read (settings, encoding)."""
    intake = Intake(warnings=list(warnings))
    for problem in problems:
        intake.add_problem(problem)
    return intake


class Sink:
    """Where accepted requests go (the work files); a no-op base for validation-only runs."""

    def add(self, request: Request, part: PartPlan) -> None:
        """Receive one accepted request, in input order; its uploaded line is
        request.native_pieces(part.url) (or request.native(part.url))."""
