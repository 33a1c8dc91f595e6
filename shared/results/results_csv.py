"""results.csv for prompt files and structured outputs: one row per request. Pure."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from shared.jobs.meta import JobMeta


@dataclass(frozen=True)
class CsvSpec:
    input_columns: tuple[str, ...]
    fields: tuple[str, ...] | None  # schema fields of a structured answer; None: answer text

    @property
    def header(self) -> list[str]:
        answer = list(self.fields) if self.fields is not None else ["answer"]
        return ["custom_id", "line", "status", *self.input_columns, *answer, "error"]


def schema_fields(schema: Any) -> tuple[str, ...] | None:
    """Top-level properties of a JSON schema, given bare or wrapped as {"schema": ...}."""
    if isinstance(schema, dict) and isinstance(schema.get("schema"), dict):
        schema = schema["schema"]
    props = schema.get("properties") if isinstance(schema, dict) else None
    return tuple(props) if isinstance(props, dict) and props else None


def csv_spec(meta: JobMeta, first_request: dict[str, Any] | None) -> CsvSpec | None:
    """A CSV for prompt and CSV inputs, and for native files that ask for structured output."""
    fields = schema_fields(meta.json_schema)
    if fields is None and first_request is not None:
        fields = schema_fields(request_schema(first_request))
    if meta.format == "native" and fields is None:
        return None
    return CsvSpec(meta.input_columns, fields)


def request_schema(body: dict[str, Any]) -> Any:
    """The structured-output schema a native request asks for, chat or responses style."""
    fmt = body.get("response_format") or (body.get("text") or {}).get("format") or {}
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    return fmt.get("json_schema", fmt)


def answer_text(response: Any) -> str | None:
    """The assistant's text from a chat completion or a Responses API body."""
    if not isinstance(response, dict):
        return None
    choices = response.get("choices")
    if isinstance(choices, list) and choices:
        return (choices[0].get("message") or {}).get("content")
    texts = [
        c.get("text", "")
        for item in response.get("output") or []
        if isinstance(item, dict) and item.get("type") == "message"
        for c in item.get("content") or []
        if isinstance(c, dict) and c.get("type") == "output_text"
    ]
    return "".join(texts) if texts else None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def row_for(result: dict[str, Any], spec: CsvSpec) -> list[str]:
    inputs = result.get("input") or {}
    text = answer_text(result.get("response")) if result["status"] == "succeeded" else None
    if spec.fields is None:
        answer = [_cell(text)]
    else:
        parsed = _parse_object(text)
        answer = [_cell(parsed.get(f)) for f in spec.fields]
    error = result.get("error") or {}
    message = f"{error.get('code')}: {error.get('message')}" if error else ""
    base = [result["custom_id"], str(result["line"]), result["status"]]
    return [*base, *(_cell(inputs.get(c)) for c in spec.input_columns), *answer, message]


def _parse_object(text: str | None) -> dict[str, Any]:
    try:
        value = orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


class CsvWriter:
    """Writes rows as they come; does nothing when the job has no CSV.

    UTF-8 with a byte-order mark, so that spreadsheet programs show non-ASCII text correctly.
    """

    def __init__(self, path: Path | None, spec: CsvSpec | None) -> None:
        self.spec = spec
        self.stream = path.open("w", newline="", encoding="utf-8-sig") if path and spec else None
        self.writer = csv.writer(self.stream) if self.stream else None
        if self.writer and spec:
            self.writer.writerow(spec.header)

    @classmethod
    def open(cls, path: Path, spec: CsvSpec | None) -> CsvWriter:
        return cls(path, spec)

    def write(self, result: dict[str, Any]) -> None:
        if self.writer and self.spec:
            self.writer.writerow(row_for(result, self.spec))

    def close(self) -> None:
        if self.stream:
            self.stream.close()
