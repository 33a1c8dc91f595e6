"""The two readers of input files: JSON Lines (native requests or prompt lines) and CSV."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from itertools import chain
from typing import Any

import orjson

from .bodies import body_problem, prompt_body
from .intake_model import Intake, Problem, Request
from .lines import LongLine
from .native import TOP_LEVEL, checked_custom_id, native_request, quick_chat, too_deep
from .options import MAX_LINE_BYTES, Options
from .rawtext import duplicate_key, duplicate_problem, encode, json_problem, non_utf8

KIND_NAMES = {"native": "batch request (it has a body)", "prompt": "prompt line"}
DELIMITERS = (",", ";", "\t")
CR_SPLIT = re.compile(r"(?<=\r)")  # keeps each \r with the text before it, as csv expects
csv.field_size_limit(MAX_LINE_BYTES)  # the default (128 KiB) is less than a long prompt

Item = Request | Problem
Lines = Iterable[tuple[int, bytes]]


def too_long(number: int, raw: LongLine, limit: int) -> Problem:
    return Problem(
        number,
        "line_too_long",
        f"Line {number} is {raw.length:,} bytes; a request may hold at most {limit:,} bytes "
        "(BATCH_MAX_BYTES, and never more than 32 MiB).",
    )


class Prompts:
    """Turns the fields of a prompt line or CSV row into a request under the folder's settings."""

    def __init__(self, options: Options, intake: Intake) -> None:
        self.options = options
        self.intake = intake
        self.deployment = options.deployment or ""
        self.checked = False

    def check_deployment(self) -> None:
        """Prompt files name no deployment themselves: one must be configured (said once)."""
        if self.checked or self.options.deployment:
            return
        self.checked = True
        self.intake.add_problem(
            Problem(
                None,
                "missing_deployment",
                'No deployment for this prompt file: set "deployment" in the folder\'s '
                "_job.json or the AZURE_OPENAI_DEPLOYMENT app setting.",
            )
        )

    def request(self, number: int, fields: dict[str, Any], custom_id: object) -> Item:
        cid = checked_custom_id(number, str(number) if custom_id is None else custom_id)
        if isinstance(cid, Problem):
            return cid
        given = self._given(number, fields)
        if isinstance(given, Problem):
            return Problem(given.line, given.code, given.message, cid)
        url = self.options.url
        body = prompt_body(self.options.settings, self.deployment, url, given)
        why = body_problem(url, body)
        if why is not None:
            return Problem(number, "invalid_body", f"Line {number}: the request {why}.", cid)
        body_json = encode(body)
        if body_json is None:
            return too_deep(number, cid)
        return Request(number, cid, url, self.deployment, body, fields, body_json)

    def _given(self, number: int, fields: dict[str, Any]) -> str | list[Any] | Problem:
        """The conversation (messages) or the prompt text: messages, else template, else prompt."""
        if "messages" in fields:
            if "prompt" in fields:
                message = f'Line {number} has both "prompt" and "messages"; keep one.'
                return Problem(number, "prompt_and_messages", message)
            messages = fields["messages"]
            return messages if isinstance(messages, list) else []  # the body check explains
        template = self.options.settings.template
        if template is not None:
            missing = template.missing(fields)
            if missing:
                message = f'Line {number}: the template needs "{missing[0]}", which it lacks.'
                return Problem(number, "missing_field", message)
            text: Any = template.render(fields)
        else:
            text = fields.get("prompt")
        if not isinstance(text, str) or not text.strip():
            return Problem(number, "missing_prompt", _no_prompt(number, template is not None))
        return text


def _no_prompt(number: int, templated: bool) -> str:
    if templated:
        return f"Line {number}: the template gives an empty prompt; fill in its fields."
    return f'Line {number} needs a non-empty string "prompt" (or "messages").'


class JsonlReader:
    """JSON Lines holding native batch requests or prompt lines; one kind per file."""

    def __init__(self, options: Options, intake: Intake) -> None:
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
        line = self.line
        for number, raw in lines:
            if raw and not raw.isspace():
                yield line(number, raw)
            else:
                self.intake.repaired("Skipped blank lines", number)

    def line(self, number: int, raw: bytes) -> Item:
        if type(raw) is LongLine:
            return too_long(number, raw, self.options.max_line)
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
        return self.prompt_line(number, raw, data)

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

    def prompt_line(self, number: int, raw: bytes, data: dict[str, Any]) -> Item:
        self.prompts.check_deployment()
        fields = {k: v for k, v in data.items() if k != "custom_id"}
        for name in fields:
            self.fields.setdefault(name)
        encoded = encode(data)
        if encoded is None:
            return too_deep(number)
        key = duplicate_key(raw, encoded.count(b":"))
        if key is not None:
            return duplicate_problem(number, key)
        return self.prompts.request(number, fields, data.get("custom_id"))


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


class CsvReader:
    """CSV with a header row: one request per row from its prompt column or the template."""

    def __init__(self, options: Options, intake: Intake) -> None:
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
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                message = f"Line {number} {non_utf8(raw)}."
                self.intake.add_problem(Problem(number, "not_utf8", message))
                text = raw.decode("utf-8", "replace")
            if "\r" in text:  # old Mac line ends, or a CR inside a quoted value
                yield from CR_SPLIT.split(text)[:-1]
            yield text.rpartition("\r")[2] + "\n"

    def _delimiter(self, header: str) -> str:
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(DELIMITERS, key=lambda d: counts[d])
        if counts[best] and best != ",":
            name = "semicolon" if best == ";" else "tab"
            self.intake.repaired(f"Read the file as {name}-separated values", None)
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
            message = (
                f"Line {number} has {len(row)} values but the header has {len(self.names)} "
                "columns; quote values that hold the separator."
            )
            return Problem(number, "wrong_column_count", message)
        values = {name: cell for name, cell in zip(self.names, row, strict=True) if name}
        custom_id = values.pop("custom_id", None)
        return self.prompts.request(number, values, custom_id)


def header_problems(names: list[str], options: Options) -> Iterator[Problem]:
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
