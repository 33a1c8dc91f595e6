"""Input-file validation with Azure Global Batch's error codes and quirks.

Codes produced (each error is `{"code", "message", "line"?, "param"?}`):
`empty_file`, `invalid_json_line`, `invalid_request`, `duplicate_custom_id`,
`url_mismatch`, `model_mismatch`, `model_not_found`, `too_many_tasks`.

A UTF-8 byte order mark makes Azure fail to read the first line's deployment, so the
emulator answers it, like Azure, with the misleading `model_not_found` code and a message
about the deployment name not being extractable (line 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

BOM = b"\xef\xbb\xbf"
REQUIRED_FIELDS = ("custom_id", "method", "url", "body")
ENDPOINTS = ("/chat/completions", "/v1/chat/completions", "/v1/responses")


def normalize_url(url: str) -> str:
    """`/v1/chat/completions` and `/chat/completions` name the same Azure endpoint."""
    return url[3:] if url.startswith("/v1/") else url


@dataclass
class Validation:
    requests: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def error(code: str, message: str, line: int | None = None, param: str | None = None) -> dict:
    out: dict[str, Any] = {"code": code, "message": message}
    if line is not None:
        out["line"] = line
    if param is not None:
        out["param"] = param
    return out


def split_lines(content: bytes) -> list[bytes]:
    """JSONL lines; one trailing newline is allowed, any other empty line is not."""
    lines = content.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def deployments_in(content: bytes) -> frozenset[str]:
    """Every `body.model` named by a line that parses."""
    models: set[str] = set()
    for raw in split_lines(content):
        try:
            body = orjson.loads(raw).get("body")
        except (orjson.JSONDecodeError, AttributeError):
            continue
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            models.add(body["model"])
    return frozenset(models)


def validate_file(
    content: bytes,
    endpoint: str,
    deployments: frozenset[str] | None,
    max_requests: int,
) -> Validation:
    whole = _whole_file_error(content, max_requests)
    if whole is not None:
        return Validation(errors=[whole])
    result = Validation()
    numbered = list(_parse_lines(split_lines(content), result.errors))
    result.requests = [request for _, request in numbered]
    result.errors.extend(_duplicate_errors(numbered))
    result.errors.extend(_url_errors(numbered, endpoint))
    result.errors.extend(_model_errors(numbered, deployments))
    result.errors.sort(key=lambda e: e.get("line", 0))
    return result


def _whole_file_error(content: bytes, max_requests: int) -> dict | None:
    if content.startswith(BOM):
        return error(
            "model_not_found",
            "The model deployment name couldn't be extracted from the input file. "
            "Please ensure every request specifies a valid deployment in body.model.",
            line=1,
        )
    if not content.strip():
        return error(
            "empty_file",
            "The input file is empty. Please ensure the batch contains at least one request.",
        )
    count = content.count(b"\n") + (0 if content.endswith(b"\n") else 1)
    if count > max_requests:
        return error(
            "too_many_tasks",
            f"The number of requests in the input file ({count}) exceeds the maximum "
            f"allowed value of {max_requests}.",
        )
    return None


def _parse_lines(lines: list[bytes], errors: list[dict]) -> Iterator[tuple[int, dict]]:
    for number, raw in enumerate(lines, start=1):
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            errors.append(
                error("invalid_json_line", "This line is not parseable as valid JSON.", number)
            )
            continue
        problem = _schema_error(parsed, number)
        if problem is not None:
            errors.append(problem)
            continue
        yield number, parsed


def _schema_problem(parsed: Any) -> tuple[str, str] | None:
    """(param, detail) for the first schema violation of a parsed line."""
    if not isinstance(parsed, dict):
        return "", "each line must be a JSON object"
    for name in REQUIRED_FIELDS:
        if name not in parsed:
            return name, f"missing required property '{name}'"
    checks = (
        ("custom_id", isinstance(parsed["custom_id"], str) and bool(parsed["custom_id"])),
        ("method", parsed["method"] == "POST"),
        ("url", isinstance(parsed["url"], str)),
        ("body", isinstance(parsed["body"], dict)),
    )
    for name, ok in checks:
        if not ok:
            return name, f"'{name}' has an invalid value"
    if not isinstance(parsed["body"].get("model"), str):
        return "body.model", "'body.model' must name a deployment"
    return None


def _schema_error(parsed: Any, number: int) -> dict | None:
    problem = _schema_problem(parsed)
    if problem is None:
        return None
    param, detail = problem
    return error(
        "invalid_request", f"The schema of the input line is invalid: {detail}.", number, param
    )


def _duplicate_errors(numbered: list[tuple[int, dict]]) -> Iterator[dict]:
    seen: set[str] = set()
    for number, request in numbered:
        custom_id = request["custom_id"]
        if custom_id in seen:
            yield error(
                "duplicate_custom_id",
                f"The custom ID '{custom_id}' is a duplicate of the custom ID in another request.",
                number,
                "custom_id",
            )
        seen.add(custom_id)


def _url_errors(numbered: list[tuple[int, dict]], endpoint: str) -> Iterator[dict]:
    expected = normalize_url(endpoint)
    for number, request in numbered:
        if normalize_url(request["url"]) != expected:
            yield error(
                "url_mismatch",
                f"The URL '{request['url']}' doesn't match the rest of the file or the batch "
                f"endpoint '{endpoint}'.",
                number,
                "url",
            )


def _model_errors(
    numbered: list[tuple[int, dict]], deployments: frozenset[str] | None
) -> Iterator[dict]:
    if not numbered:
        return
    reference = numbered[0][1]["body"]["model"]
    reported: set[str] = set()
    for number, request in numbered:
        model = request["body"]["model"]
        if model != reference:
            yield error(
                "model_mismatch",
                f"The deployment '{model}' doesn't match the rest of the file ('{reference}').",
                number,
                "body.model",
            )
        elif deployments is not None and model not in deployments and model not in reported:
            reported.add(model)
            yield error(
                "model_not_found",
                f"The model deployment '{model}' was not found.",
                number,
                "body.model",
            )
