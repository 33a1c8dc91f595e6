"""Join requests with answers and errors by custom_id, in input order. Pure, streaming."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from .csvout import CsvSpec, CsvWriter
from .jobs import Part
from .spill import LineStore, blocks, quick_custom_id

RETRY_FILE = "retry.jsonl"
WRITE_BUFFER = 1 << 20

USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")
USAGE_NAMES = (  # (key in a usage object, the total it counts towards)
    ("prompt_tokens", "prompt_tokens"),
    ("completion_tokens", "completion_tokens"),
    ("total_tokens", "total_tokens"),
    # Responses API bodies name their token counts differently.
    ("input_tokens", "prompt_tokens"),
    ("output_tokens", "completion_tokens"),
)


# Per-line failures worth another try: throttling, server errors, timeouts (status 0), and
# requests an expired batch never ran or the service silently dropped. Not 400s, not content
# filters, not a batch the service refused, not a user's cancel.
RETRY_STATUS = frozenset({0, 408, 429, 500, 502, 503, 504})
RETRY_CODES = frozenset(
    {"batch_expired", "missing_from_output", "timeout", "rate_limit_exceeded", "server_error"}
)


def retryable(result: dict[str, Any]) -> bool:
    error = result.get("error")
    if result["status"] == "succeeded" or not isinstance(error, dict):
        return False
    code = str(error.get("code", "")).lower()
    return error.get("status_code") in RETRY_STATUS or code in RETRY_CODES


@dataclass(frozen=True)
class _Block:
    """Whole lines of one of the service's files, and where they are in it and in the store."""

    data: bytes
    source: str
    lines_before: int
    offset: int

    def where(self, begin: int) -> str:
        number = self.lines_before + self.data.count(b"\n", 0, begin) + 1
        return f"{self.source} line {number}"


@dataclass
class Outcomes:
    """The service's answer and error lines by custom_id: their bytes wait on local disk
    (LineStore), so memory does not grow with the answers; each is parsed once, when merged.

    Files are added in part order; a later part is a later attempt, so its line replaces an
    earlier one for the same custom_id. Twice in one part is the service's error: reported.
    """

    lines: LineStore = field(default_factory=LineStore)
    anomalies: list[str] = field(default_factory=list)
    part_of: dict[str, int] = field(default_factory=dict)
    current_part: int = 0

    def add_file(self, chunks: Iterable[bytes], source: str, part: int = 0) -> None:
        self.current_part = part
        lines_before = 0
        for data in blocks(chunks):
            self._add_block(_Block(data, source, lines_before, self.lines.append(data)))
            lines_before += data.count(b"\n")

    def _add_block(self, block: _Block) -> None:
        begin = 0
        for raw in block.data.split(b"\n"):
            custom_id = quick_custom_id(raw) or self._parsed_id(raw, block, begin)
            if custom_id is not None:
                self._keep(custom_id, block, begin, len(raw))
            begin += len(raw) + 1

    def _keep(self, custom_id: str, block: _Block, begin: int, length: int) -> None:
        if self.part_of.get(custom_id) == self.current_part:
            self.anomalies.append(
                f"{block.where(begin)}: custom_id {custom_id!r} returned twice; "
                "the first answer was kept."
            )
        else:
            self.lines.place(custom_id, block.offset + begin, length)
            self.part_of[custom_id] = self.current_part

    def _parsed_id(self, raw: bytes, block: _Block, begin: int) -> str | None:
        """The slow way, for lines the quick search cannot vouch for; None for a blank line
        and after an anomaly."""
        if not raw.strip():
            return None
        try:
            custom_id = orjson.loads(raw).get("custom_id")
        except (orjson.JSONDecodeError, AttributeError):
            self.anomalies.append(f"{block.where(begin)}: not a JSON object; ignored.")
            return None
        if not isinstance(custom_id, str):
            self.anomalies.append(f"{block.where(begin)}: no custom_id; ignored.")
            return None
        return custom_id

    def take(self, custom_id: str, part: int) -> dict[str, Any] | None:
        """The parsed line for `custom_id` from `part` (its latest attempt), removed; None if
        that attempt has none. An earlier attempt's line does not count."""
        raw = self.lines.take(custom_id)
        if raw is None or self.part_of.get(custom_id, part) != part:
            return None
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.anomalies.append(f"custom_id {custom_id!r}: not a JSON object; ignored.")
            return None
        return line if isinstance(line, dict) else None


@dataclass
class Tally:
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    usage: dict[str, int] = field(default_factory=lambda: dict.fromkeys(USAGE_KEYS, 0))

    def add(self, result: dict[str, Any]) -> None:
        self.total += 1
        if result["status"] == "succeeded":
            self.succeeded += 1
        else:
            self.failed += 1
        add_usage(self.usage, result.get("response"))


def add_usage(totals: dict[str, int], body: object) -> None:
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return
    for key, name in USAGE_NAMES:
        value = usage.get(key)
        if isinstance(value, int) and name in totals:
            totals[name] += value


@dataclass
class Attempts:
    """Which parts each request was sent in: its first part (from the index) plus retries."""

    retried_in: dict[str, list[int]] = field(default_factory=dict)

    def add_retry_part(self, custom_ids: Iterable[str], part: int) -> None:
        for custom_id in custom_ids:
            self.retried_in.setdefault(custom_id, []).append(part)

    def of(self, custom_id: str, first_part: int) -> tuple[int, int]:
        """(number of attempts, the part of the latest attempt)."""
        later = self.retried_in.get(custom_id)
        return (1 + len(later), later[-1]) if later else (1, first_part)


def merge(
    requests: Iterable[bytes],
    outcomes: Outcomes,
    parts: dict[int, Part],
    attempts: Attempts | None = None,
) -> Iterator[dict[str, Any]]:
    """One result per request line of the work index, in the index's (input) order."""
    return _merged(map(orjson.loads, requests), outcomes, parts, attempts or Attempts())


def _merged(
    records: Iterable[dict[str, Any]],
    outcomes: Outcomes,
    parts: dict[int, Part],
    attempts: Attempts,
) -> Iterator[dict[str, Any]]:
    take, attempts_of = outcomes.take, attempts.of  # looked up once: once per request adds up
    for record in records:
        custom_id = record["custom_id"]
        tries, last = attempts_of(custom_id, record["part"])
        yield _result(record, take(custom_id, last), parts[last], tries)


def result_for(
    record: dict[str, Any], found: bytes | None, part: Part, tries: int = 1
) -> dict[str, Any]:
    return _result(record, orjson.loads(found) if found is not None else None, part, tries)


def _result(
    record: dict[str, Any], line: dict[str, Any] | None, part: Part, tries: int
) -> dict[str, Any]:
    response, error = _answer(line) if line is not None else (None, missing_error(part))
    result = {
        "custom_id": record["custom_id"],
        "line": record["line"],
        "status": "succeeded" if error is None else "failed",
        "request": record["request"],
        "response": response,
        "error": error,
        "attempts": tries,
    }
    if "input" in record:
        result["input"] = record["input"]
    return result


def _answer(line: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
    """(response body, error) from one output or error line of the service."""
    response = line.get("response") or {}
    status = response.get("status_code")
    body = response.get("body")
    if line.get("error"):
        return body, _error(line["error"], status)
    if isinstance(status, int) and 200 <= status < 300:
        return body, None
    detail = body.get("error") if isinstance(body, dict) else None
    return body, _error(detail or {}, status)


def _error(detail: Any, status: object) -> dict[str, Any]:
    detail = detail if isinstance(detail, dict) else {"message": str(detail)}
    code = detail.get("code") or (f"http_{status}" if status is not None else "error")
    message = detail.get("message") or f"The service answered with status {status}."
    return {"code": str(code), "message": str(message), "status_code": status}


def missing_error(part: Part) -> dict[str, Any]:
    """Why a request has no line in either file: the batch's fate says."""
    if part.remote_status == "failed":
        first = part.errors[0] if part.errors else {}
        return {
            "code": first.get("code", "batch_failed"),
            "message": first.get("message", "The service rejected the batch."),
            "status_code": first.get("status_code"),
        }
    if part.remote_status in ("expired", "cancelled"):
        return {
            "code": f"batch_{part.remote_status}",
            "message": f"The batch was {part.remote_status} before this request ran.",
            "status_code": None,
        }
    return {
        "code": "missing_from_output",
        "message": "The service returned no result for this request.",
        "status_code": None,
    }


def read_lines(path: Path) -> Iterator[bytes]:
    """Non-blank lines of a local file, streamed."""
    with path.open("rb") as stream:
        for raw in stream:
            raw = raw.rstrip(b"\r\n")
            if raw:
                yield raw


def _index_lines(path: Path) -> Iterator[bytes]:
    """Non-blank lines of the work index, line ends kept (the JSON parser skips them)."""
    with path.open("rb") as stream:
        for raw in stream:
            if not raw.isspace():
                yield raw


@dataclass
class MergeFiles:
    """One pass over the work index: results.jsonl, errors.jsonl, results.csv (when the job
    has one) and retry.jsonl (requests to send again), all written to `folder` as it goes."""

    folder: Path
    max_attempts: int
    csv_spec: CsvSpec | None = None
    tally: Tally = field(default_factory=Tally)
    retry_count: int = 0
    expired_left: bool = False

    def run(
        self, index: Path, outcomes: Outcomes, parts: dict[int, Part], attempts: Attempts
    ) -> None:
        csv = CsvWriter.open(self.folder / "results.csv", self.csv_spec)
        with (
            self._open("results.jsonl") as results,
            self._open("errors.jsonl") as errors,
            self._open(RETRY_FILE) as retry,
        ):
            records = map(orjson.loads, _index_lines(index))
            write, tally = results.write, self.tally.add
            for row in _merged(records, outcomes, parts, attempts):
                line = orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)
                write(line)
                if self.csv_spec is not None:
                    csv.write(row)
                if row["status"] != "succeeded":
                    errors.write(line)
                    self._failed(row, retry)
                tally(row)
        csv.close()

    def _open(self, name: str) -> BinaryIO:
        return (self.folder / name).open("wb", buffering=WRITE_BUFFER)

    def _failed(self, row: dict[str, Any], retry: BinaryIO) -> None:
        if retryable(row) and row["attempts"] < self.max_attempts:
            self.retry_count += 1
            record = {k: row[k] for k in ("line", "custom_id", "request")}
            retry.write(orjson.dumps(record) + b"\n")
        elif (row["error"] or {}).get("code") == "batch_expired":
            self.expired_left = True
