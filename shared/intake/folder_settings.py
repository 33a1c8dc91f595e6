"""A folder's job settings (`_job.json`): find the nearest, check every field, explain mistakes."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from shared.intake.output_format import OutputFormat, strict_gap
from shared.intake.problem import Problem
from shared.intake.templates import Template, parse_template
from shared.intake.text import colons, duplicate_key, non_utf8
from shared.storage.names import JOB_SETTINGS, settings_candidates

NAME = JOB_SETTINGS
MAX_BYTES = 1 << 20
FIELDS = ("deployment", "endpoint", "system", "template", "response_format", "json_schema", "body")
ENDPOINTS = {
    "chat": "chat",
    "/chat/completions": "chat",
    "/v1/chat/completions": "chat",
    "chat/completions": "chat",
    "responses": "responses",
    "/v1/responses": "responses",
    "/responses": "responses",
}
# Body fields that other settings (or the input file) own.
BODY_OWNED = {
    "model": 'use "deployment"',
    "messages": 'the input file and "system" / "template" make the messages',
    "input": 'the input file and "template" make the input',
    "prompt": 'use "template"',
    "response_format": 'use "response_format" or "json_schema" at the top level',
    "stream": "batch requests cannot stream; remove it",
}
# Request fields people put at the top level by mistake; they belong in "body".
REQUEST_FIELDS = (
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "seed",
    "stop",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "reasoning_effort",
    "reasoning",
    "tools",
    "tool_choice",
    "logprobs",
    "top_logprobs",
    "user",
    "metadata",
)
SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class FolderSettings:
    source: str | None = None  # blob name of the _job.json these came from
    deployment: str | None = None
    endpoint: str | None = None  # chat | responses
    system: str | None = None
    template: Template | None = None
    output: OutputFormat | None = None
    body: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def shapes_bodies(self) -> bool:
        """Whether these settings add anything to the body of a native request."""
        return bool(self.body or self.system or self.output)

    @property
    def json_schema(self) -> dict[str, Any] | None:
        return self.output.schema if self.output and self.output.type == "json_schema" else None


def candidates(name: str) -> list[str]:
    """Where the settings of input `name` may be, nearest folder first, up to the root."""
    return settings_candidates(name)


def find(read: Callable[[str], bytes | None], name: str) -> FolderSettings | list[Problem]:
    """The nearest `_job.json` wins as a whole; none at all means empty settings."""
    for path in candidates(name):
        data = read(path)
        if data is not None:
            return parse(path, data)
    return FolderSettings()


def parse(source: str, data: bytes) -> FolderSettings | list[Problem]:
    """Every mistake in the file at once, each saying what to write instead."""
    doc = _document(source, data)
    if isinstance(doc, Problem):
        return [doc]
    checked = _Checked(source)
    settings = FolderSettings(
        source=source,
        deployment=checked.text(doc, "deployment"),
        endpoint=checked.endpoint(doc),
        system=checked.text(doc, "system"),
        template=checked.template(doc),
        output=checked.output(doc),
        body=checked.body(doc),
    )
    checked.unknown(doc)
    if checked.problems:
        return checked.problems
    return replace(settings, warnings=tuple(checked.warnings))


def _document(source: str, data: bytes) -> dict[str, Any] | Problem:
    def problem(message: str) -> Problem:
        return Problem(None, "invalid_job_settings", f"{source}: {message}")

    if len(data) > MAX_BYTES:
        return problem(f"is larger than {MAX_BYTES // 1024} KiB; job settings are small.")
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        reason = non_utf8(data)
        return problem(reason + "." if reason else f"is not valid JSON ({exc}); fix it.")
    if not isinstance(doc, dict):
        return problem('must be a JSON object such as {"deployment": "gpt-4o-mini-batch"}.')
    key = duplicate_key(data, colons(doc))
    if key is not None:
        return problem(f'field "{key}" appears twice; keep one.')
    return doc


class _Checked:
    """Checks fields one by one, collecting problems instead of stopping at the first."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    def fail(self, message: str) -> None:
        self.problems.append(Problem(None, "invalid_job_settings", f"{self.source}: {message}"))

    def text(self, doc: dict[str, Any], name: str) -> str | None:
        value = doc.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(f'"{name}" must be a non-empty string.')
            return None
        return value

    def endpoint(self, doc: dict[str, Any]) -> str | None:
        value = doc.get("endpoint")
        if value is None:
            return None
        found = ENDPOINTS.get(value.strip().lower()) if isinstance(value, str) else None
        if found is None:
            why = ""
            if isinstance(value, str) and "embedding" in value.lower():
                why = " (Azure OpenAI's batch API does not take embeddings)"
            self.fail(f'"endpoint" must be "chat" or "responses", not {value!r}{why}.')
        return found

    def template(self, doc: dict[str, Any]) -> Template | None:
        value = self.text(doc, "template")
        if value is None:
            return None
        parsed = parse_template(value)
        if isinstance(parsed, str):
            self.fail(f'"template": {parsed}')
            return None
        return parsed

    def output(self, doc: dict[str, Any]) -> OutputFormat | None:
        if "response_format" in doc and "json_schema" in doc:
            self.fail('set "response_format" or "json_schema", not both.')
            return None
        if "json_schema" in doc:
            return self._schema(doc["json_schema"], '"json_schema"')
        if "response_format" in doc:
            return self._response_format(doc["response_format"])
        return None

    def _response_format(self, value: Any) -> OutputFormat | None:
        kind = value.get("type") if isinstance(value, dict) else None
        if kind == "json_object":
            return OutputFormat("json_object")
        if kind == "text":
            return None
        if kind == "json_schema" and isinstance(value.get("json_schema"), dict):
            return self._schema(value["json_schema"], '"response_format.json_schema"')
        self.fail(
            '"response_format" must be {"type": "json_object"} or {"type": "json_schema", '
            '"json_schema": {"name": ..., "schema": {...}}}; or give the schema as "json_schema".'
        )
        return None

    def _schema(self, value: Any, where: str) -> OutputFormat | None:
        """A bare JSON schema, or the {"name", "schema", "strict"} wrapper around one."""
        if not isinstance(value, dict):
            self.fail(f"{where} must be a JSON schema object.")
            return None
        wrapped = isinstance(value.get("schema"), dict)
        schema = value["schema"] if wrapped else value
        name = value.get("name", "answer") if wrapped else "answer"
        if schema.get("type") != "object":
            self.fail(f'{where}: the schema\'s root must be {{"type": "object", ...}}.')
            return None
        if not isinstance(name, str) or not SCHEMA_NAME.match(name):
            self.fail(f"{where}: name must be 1-64 letters, digits, _ or -.")
            return None
        strict = value.get("strict") if wrapped and "strict" in value else None
        return OutputFormat("json_schema", schema, name, self._strict(schema, strict, where))

    def _strict(self, schema: dict[str, Any], asked: Any, where: str) -> bool:
        if isinstance(asked, bool):
            return asked
        why = strict_gap(schema)
        if why is None:
            return True
        self.warnings.append(
            f"{self.source}: {where} is sent with strict false because {why}; answers follow "
            "the schema closely but are not guaranteed to match it."
        )
        return False

    def body(self, doc: dict[str, Any]) -> dict[str, Any]:
        value = doc.get("body", {})
        if not isinstance(value, dict):
            self.fail('"body" must be an object of request fields, e.g. {"temperature": 0}.')
            return {}
        for key in value.keys() & BODY_OWNED.keys():
            self.fail(f'"body.{key}" is not allowed here: {BODY_OWNED[key]}.')
        return value

    def unknown(self, doc: dict[str, Any]) -> None:
        for key in sorted(doc.keys() - set(FIELDS)):
            self.fail(f'unknown field "{key}"{_hint(key)}; known fields: {", ".join(FIELDS)}.')


def _hint(key: str) -> str:
    """A likely fix: a misspelt setting, or a request field that belongs inside "body"."""
    near = difflib.get_close_matches(key, (*FIELDS, *REQUEST_FIELDS), n=1, cutoff=0.75)
    if not near:
        return ""
    if near[0] in REQUEST_FIELDS:
        return f' (request fields go inside "body", e.g. "body": {{"{near[0]}": ...}})'
    return f' (did you mean "{near[0]}"?)'
