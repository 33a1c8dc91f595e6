"""The merge: join requests with answers and errors by custom_id, in input order, in one pass
that writes results.jsonl, errors.jsonl, results.csv and the retry file. Pure, streaming."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from shared.jobs.meta import JobMeta
from shared.jobs.part import Part
from shared.results.answers import finish_reason, structured_error
from shared.results.outcomes import Outcomes
from shared.results.part_lines import PartLines, part_errors
from shared.results.results_csv import CsvSpec, CsvWriter
from shared.results.retry import RETRY_FILE, Attempts, should_retry
from shared.results.tally import Tally
from shared.storage.names import ERRORS, RESULTS, RESULTS_CSV

WRITE_BUFFER = 1 << 20


def merged_results(
    records: Iterable[dict[str, Any]],
    outcomes: Outcomes,
    parts: dict[int, Part],
    attempts: Attempts,
    lines: PartLines | None = None,
) -> Iterator[dict[str, Any]]:
    """One result per work-index record, in the index's (input) order: each request's latest
    attempt, its answer or error, or why the service returned nothing for it. With `lines`,
    the service's errors about a line of a part go to the request on that line. After a
    person's retry, records carry the tries before it (`attempts_before`), or the result kept
    from before it (`kept`: a request that was not sent again)."""
    if lines is not None:
        yield from _with_lines(records, outcomes, parts, attempts, lines)
        return
    take, attempts_of = outcomes.take, attempts.of  # looked up once: once per request adds up
    for record in records:
        if "kept" in record:
            yield kept_result(record)
            continue
        custom_id = record["custom_id"]
        tries, last = attempts_of(custom_id, record["part"])
        tries += record.get("attempts_before", 0)
        yield _result(record, take(custom_id, last), parts[last], tries)


def _with_lines(
    records: Iterable[dict[str, Any]],
    outcomes: Outcomes,
    parts: dict[int, Part],
    attempts: Attempts,
    lines: PartLines,
) -> Iterator[dict[str, Any]]:
    for record in records:
        if "kept" in record:
            yield kept_result(record)
            continue
        custom_id = record["custom_id"]
        tries, last = attempts.of(custom_id, record["part"])
        tries += record.get("attempts_before", 0)
        sent_in = [record["part"], *attempts.retried(custom_id)]
        place = lines.count(record["line"], custom_id, sent_in)[last]
        own = lines.own_error(last, place)
        yield _result(record, outcomes.take(custom_id, last), parts[last], tries, own)


def _result(
    record: dict[str, Any],
    line: dict[str, Any] | None,
    part: Part,
    tries: int,
    own: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response, error = _answer(line) if line is not None else (None, missing_error(part, own))
    finish = finish_reason(response)
    if error is None:  # a structured answer that does not parse is no success
        error = structured_error(record["request"], response, finish)
    result = {
        "custom_id": record["custom_id"],
        "line": record["line"],
        "status": "succeeded" if error is None else "failed",
        "request": record["request"],
        "response": response,
        "error": error,
        "finish_reason": finish,
        "attempts": tries,
    }
    if "input" in record:
        result["input"] = record["input"]
    return result


def kept_result(record: dict[str, Any]) -> dict[str, Any]:
    """A result a person's retry kept from the results it started from (lifecycle/reopen.py):
    written again as it was, in the same shape as every other result."""
    kept = record["kept"]
    result = {
        "custom_id": record["custom_id"],
        "line": record["line"],
        "status": kept["status"],
        "request": record["request"],
        "response": kept.get("response"),
        "error": kept.get("error"),
        "finish_reason": kept.get("finish_reason"),
        "attempts": kept.get("attempts", 1),
    }
    if "input" in record:
        result["input"] = record["input"]
    return result


def _answer(line: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
    """(response body, error) from one output or error line of the service; a line whose
    shape is not the documented one fails its request with a clear code, never a crash."""
    response = line.get("response") or {}
    if not isinstance(response, dict):
        return None, _odd_shape("its `response` is not an object")
    status = response.get("status_code")
    body = response.get("body")
    if line.get("error"):
        return body, _error(line["error"], status)
    if body is not None and not isinstance(body, dict):
        return None, _odd_shape("its response `body` is not an object")
    if isinstance(status, int) and 200 <= status < 300:
        return body, None
    detail = body.get("error") if isinstance(body, dict) else None
    return body, _error(detail or {}, status)


def _odd_shape(what: str) -> dict[str, Any]:
    return {
        "code": "unexpected_output_shape",
        "message": f"The service's answer for this request is not in the documented shape: {what}.",
        "status_code": None,
    }


def _error(detail: Any, status: object) -> dict[str, Any]:
    detail = detail if isinstance(detail, dict) else {"message": str(detail)}
    code = detail.get("code") or (f"http_{status}" if status is not None else "error")
    message = detail.get("message") or f"The service answered with status {status}."
    return {"code": str(code), "message": str(message), "status_code": status}


def missing_error(part: Part, own: dict[str, Any] | None = None) -> dict[str, Any]:
    """Why a request has no line in either file: the batch's fate says (and, when the service
    refused the batch, its error about this very line, if it named one)."""
    if part.remote_status == "failed":
        first = own or (part.errors[0] if part.errors else {})
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
    meta: JobMeta = field(default_factory=JobMeta)
    tally: Tally = field(default_factory=Tally)
    retry_count: int = 0
    expired_left: bool = False
    lines: PartLines | None = None

    def part_errors(self, parts: Iterable[Part]) -> dict[int, list[dict[str, Any]]]:
        """Each part's errors from the service, with input line numbers."""
        return part_errors(parts, self.lines)

    def run(
        self, index: Path, outcomes: Outcomes, parts: dict[int, Part], attempts: Attempts
    ) -> None:
        self.lines = PartLines.of(parts)
        csv = CsvWriter.open(self.folder / RESULTS_CSV, self.csv_spec)
        with (
            self._open(RESULTS) as results,
            self._open(ERRORS) as errors,
            self._open(RETRY_FILE) as retry,
        ):
            records = map(orjson.loads, _index_lines(index))
            write, tally = results.write, self.tally.add
            for row in merged_results(records, outcomes, parts, attempts, self.lines):
                line = orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE)
                write(line)
                if self.csv_spec is not None:
                    csv.write(row)
                if row["status"] != "succeeded":
                    errors.write(line)
                    self._failed(row, retry)
                tally(row)
        csv.close()
        outcomes.finish()

    def _open(self, name: str) -> BinaryIO:
        return (self.folder / name).open("wb", buffering=WRITE_BUFFER)

    def _failed(self, row: dict[str, Any], retry: BinaryIO) -> None:
        if should_retry(row, self.max_attempts):
            self.retry_count += 1
            record = {k: row[k] for k in ("line", "custom_id", "request")}
            retry.write(orjson.dumps(record) + b"\n")
        elif (row["error"] or {}).get("code") == "batch_expired":
            self.expired_left = True
