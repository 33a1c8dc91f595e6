"""JSON Lines input: native batch requests or prompt lines, one kind per file."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import orjson

from shared.intake import formats
from shared.intake.lines import LongLine
from shared.intake.model import MAX_COLUMNS, Intake, Request
from shared.intake.native import TOP_LEVEL, native_request, quick_chat, too_deep
from shared.intake.problem import Problem
from shared.intake.prompts import Prompts
from shared.intake.text import (
    DENSE_FROM,
    duplicate_key,
    duplicate_problem,
    encode,
    json_problem,
    too_dense,
    too_long,
)

if TYPE_CHECKING:
    from shared.intake.options import IntakeOptions

KIND_NAMES = {"native": "batch request (it has a body)", "prompt": "prompt line"}
TOO_MANY_FIELDS = (
    f"Only the first {MAX_COLUMNS:,} field names of the prompt lines became columns of "
    "results.csv (results.jsonl keeps every field)"
)

Item = Request | Problem
Lines = Iterable[tuple[int, bytes]]


class JsonlReader:
    """JSON Lines holding native batch requests or prompt lines; one kind per file."""

    def __init__(self, options: IntakeOptions, intake: Intake) -> None:
        self.options = options
        self.intake = intake
        self.prompts = Prompts(options, intake)
        self.kind: tuple[int, str] | None = None  # the first request line and its kind
        self.native = False  # the file holds native requests (a shortcut for the common case)
        self.quick = not options.settings.shapes_bodies  # plain lines need no changes
        self.fields: dict[str, None] = {}  # the prompt lines' field names, first seen first

    @property
    def columns(self) -> list[str]:
        return list(self.fields)

    def items(self, lines: Lines) -> Iterator[Item]:
        lines = iter(lines)
        for number, raw in lines:  # up to the first line with content, which shows the format
            if raw and not raw.isspace():
                problem = _format_problem(number, raw)
                yield problem or self.line(number, raw)
                if problem is not None:
                    return  # one clear problem, not one per line of a file in another format
                break
            self.intake.repaired("Skipped blank lines", number)
        line = self.line
        for number, raw in lines:
            if raw and not raw.isspace():
                yield line(number, raw)
            else:
                self.intake.repaired("Skipped blank lines", number)

    def line(self, number: int, raw: bytes, default_id: str | None = None) -> Item:
        """One line's request or problem; a prompt line without custom_id gets `default_id`,
        else its line number."""
        if type(raw) is LongLine:
            return too_long(number, raw, self.options.max_line)
        dense = too_dense(number, raw) if len(raw) >= DENSE_FROM else None
        if dense is not None:
            return dense
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return json_problem(number, raw, exc)
        if type(data) is not dict:
            return _not_an_object(number, data)
        if self.native and "body" in data:
            return self.native_line(number, raw, data)
        kind = self.kind_of(number, data)
        if isinstance(kind, Problem):
            return kind
        if kind == "native":
            return native_request(number, raw, data, self.options, self.intake)
        return self.prompt_line(number, raw, data, default_id)

    def native_line(self, number: int, raw: bytes, data: dict[str, Any]) -> Item:
        if self.quick and self.intake.endpoint == "chat" and self.intake.first_url:
            request = quick_chat(number, raw, data)
            if request is not None:
                return request
        return native_request(number, raw, data, self.options, self.intake)

    def kind_of(self, number: int, data: dict[str, Any]) -> str | Problem:
        kind = _kind(data)
        if self.kind is None:
            first = kind or self._guess(number, data)
            if isinstance(first, Problem):
                return first
            self.kind = (number, first)
            self.intake.format = first
            self.native = first == "native"
            return first
        first_line, first_kind = self.kind
        if kind is None or kind == first_kind:
            return first_kind
        message = (
            f"Line {number} is a {KIND_NAMES[kind]} but line {first_line} is a "
            f"{KIND_NAMES[first_kind]}; one file holds one kind."
        )
        return Problem(number, "mixed_format", message)

    def _guess(self, number: int, data: dict[str, Any]) -> str | Problem:
        if data.keys() & TOP_LEVEL:
            return "native"  # an incomplete request: its own checks say what is missing
        if self.options.settings.template is not None:
            return "prompt"
        return Problem(
            number,
            "not_a_request",
            f'Line {number} has no "body" (a batch request) and no "prompt" or "messages" '
            '(a prompt line); to build prompts from other fields set "template" in _job.json.',
        )

    def prompt_line(
        self, number: int, raw: bytes, data: dict[str, Any], default_id: str | None = None
    ) -> Item:
        self.prompts.check_deployment()
        fields = {k: v for k, v in data.items() if k != "custom_id"}
        if len(self.fields) < MAX_COLUMNS:
            for name in fields:
                self.fields.setdefault(name)
        elif not fields.keys() <= self.fields.keys():
            self.intake.repaired(TOO_MANY_FIELDS, number)
        encoded = encode(data)
        if encoded is None:
            return too_deep(number)
        key = duplicate_key(raw, encoded.count(b":"))
        if key is not None:
            return duplicate_problem(number, key)
        custom_id = data.get("custom_id")
        return self.prompts.request(number, fields, default_id if custom_id is None else custom_id)


def _format_problem(number: int, raw: bytes) -> Problem | None:
    """A JSON array, or pretty-printed JSON, where JSON Lines were expected."""
    if type(raw) is LongLine:
        return None
    start = raw.lstrip()[:1]
    if start == b"[":
        return formats.json_array_in_jsonl(number)
    if start != b"{":
        return None
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return formats.multiline_json_in_jsonl(number) if formats.unfinished(raw, exc) else None
    return None


def _kind(data: dict[str, Any]) -> str | None:
    if "body" in data:
        return "native"
    if "prompt" in data or "messages" in data:
        return "prompt"
    return None


def _not_an_object(number: int, data: Any) -> Problem:
    hint = ""
    if isinstance(data, list):
        hint = " A JSON array? Write each object on its own line (JSON Lines)."
    return Problem(number, "not_an_object", f"Line {number} must be a JSON object.{hint}")
