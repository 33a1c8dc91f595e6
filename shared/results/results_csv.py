"""results.csv for prompt files and structured outputs: one row per request, in the input
CSV's own delimiter. Its column names never collide and are one-to-one: batchdrop's own names
(`OWN`) are only batchdrop's; an input column keeps its name unless it is one of them, and is then
written `input.<name>`, with `input.` added again while that is another input column's name; a
schema field keeps its name unless it is batchdrop's or an input column's (as written), and is
then written `answer.<name>`, with `answer.` added again while that names another column. Pure."""

from __future__ import annotations

import csv
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from shared.jobs.meta import JobMeta
from shared.results.answers import answer_text

__all__ = [
    "OWN",
    "CsvSpec",
    "CsvWriter",
    "answer_text",
    "csv_spec",
    "renamed",
    "row_for",
    "schema_fields",
]

LEFT = ("custom_id", "line", "status")
ANSWER, RAW = "answer", "raw_answer"
RIGHT = ("error", "finish_reason")
OWN = frozenset({*LEFT, ANSWER, *RIGHT, RAW})
INPUT_PREFIX, FIELD_PREFIX = "input.", "answer."


@dataclass(frozen=True)
class CsvSpec:
    input_columns: tuple[str, ...]
    fields: tuple[str, ...] | None  # schema fields of a structured answer; None: answer text
    delimiter: str = ","

    @property
    def header(self) -> list[str]:
        """custom_id, line, status, the inputs, the answer (text, or one column per schema
        field), error, finish_reason and, for structured answers, raw_answer (the text of an
        answer that did not parse)."""
        inputs = renamed(self.input_columns, INPUT_PREFIX, OWN)
        if self.fields is None:
            return [*LEFT, *inputs, ANSWER, *RIGHT]
        fields = renamed(self.fields, FIELD_PREFIX, OWN | set(inputs))
        return [*LEFT, *inputs, *fields, *RIGHT, RAW]


def renamed(names: Sequence[str], prefix: str, taken: Collection[str]) -> list[str]:
    """Each of `names` (unique) as written: unchanged unless `taken` has it, else `prefix` added
    as often as needed to name no taken column, none of `names` and none renamed before it.
    A name that is not taken is never given to another column, so nothing swaps."""
    used = set(taken) | set(names)
    out = []
    for name in names:
        if name in taken:
            name = prefix + name
            while name in used:
                name = prefix + name
            used.add(name)
        out.append(name)
    return out


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
    return CsvSpec(meta.input_columns, fields, meta.delimiter)


def request_schema(body: dict[str, Any]) -> Any:
    """The structured-output schema a native request asks for, chat or responses style."""
    fmt = body.get("response_format") or (body.get("text") or {}).get("format") or {}
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    return fmt.get("json_schema", fmt)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def row_for(result: dict[str, Any], spec: CsvSpec) -> list[str]:
    inputs = result.get("input") or {}
    text = answer_text(result.get("response"))
    ok = result["status"] == "succeeded"
    if spec.fields is None:
        answer = [_cell(text if ok else None)]
    else:
        parsed = _parse_object(text if ok else None)
        answer = [_cell(parsed.get(f)) for f in spec.fields]
    error = result.get("error") or {}
    message = f"{error.get('code')}: {error.get('message')}" if error else ""
    base = [result["custom_id"], str(result["line"]), result["status"]]
    tail = [message, _cell(result.get("finish_reason"))]
    if spec.fields is not None:
        tail.append(_cell(None if ok else text))  # the raw text of an answer that did not parse
    return [*base, *(_cell(inputs.get(c)) for c in spec.input_columns), *answer, *tail]


def _parse_object(text: str | None) -> dict[str, Any]:
    try:
        value = orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


class CsvWriter:
    """Writes rows as they come; does nothing when the job has no CSV.

    UTF-8 with a byte-order mark, so that spreadsheet programs show non-ASCII text correctly,
    separated like the input CSV, so that a spreadsheet set for semicolons opens it in columns.
    """

    def __init__(self, path: Path | None, spec: CsvSpec | None) -> None:
        self.spec = spec
        self.stream = path.open("w", newline="", encoding="utf-8-sig") if path and spec else None
        self.writer = (
            csv.writer(self.stream, delimiter=spec.delimiter) if self.stream and spec else None
        )
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
