"""Fault kinds: each one's parser (registered in `KINDS`) and the hook the emulator calls
where it applies. See `devtools/emulator/README.md` for every kind's fields; `rules.py` holds
the fields every rule takes (times, probability, seed, deployment, filename, metadata).
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from .errors import ApiError, not_found, unauthorized
from .rules import (
    KINDS,
    OBJECTS,
    Faults,
    RuleError,
    Scope,
    choice_of,
    count_of,
    field_of,
    fraction_of,
    kind,
    regex_of,
)

__all__ = ["KINDS", "Faults", "RuleError"]

TIMESTAMP_FIELDS = (
    "created_at", "in_progress_at", "expires_at", "finalizing_at", "completed_at",
    "failed_at", "expired_at", "cancelling_at", "cancelled_at",
)  # fmt: skip
ODD_SHAPES = ("choices_not_objects", "response_string", "body_list", "not_json")
PROBLEMS = ("wrong_key", "missing_permission", "wrong_endpoint")


# ----- kinds: what a rule says -----------------------------------------------------------------


@kind(
    "line_failure",
    None,
    ("custom_id", "status_code", "attempts", "code", "message", "shape"),
    "matching request lines land in the error file with status_code (0 = timeout)",
)
def _parse_line_failure(raw: dict) -> dict:
    status = field_of(raw, "status_code", int, 500)
    if status != 0 and not 400 <= status <= 599:
        raise RuleError("line_failure status_code must be 0 or 400..599")
    return {
        "custom_id": regex_of(raw, "custom_id"),
        "status_code": status,
        "attempts": field_of(raw, "attempts", int),
        "code": field_of(raw, "code", str),
        "message": field_of(raw, "message", str),
        "shape": choice_of(raw, "shape", ("response", "error"), "response"),
    }


@kind(
    "batch_outcome",
    1,
    ("status", "fraction"),
    "the batch ends expired or cancelled after that fraction of its lines (partial output)",
)
def _parse_batch_outcome(raw: dict) -> dict:
    return {
        "status": choice_of(raw, "status", ("expired", "cancelled"), None),
        "fraction": fraction_of(raw, "fraction", 0.5),
    }


@kind(
    "http",
    1,
    ("method", "path", "status", "close", "reset", "commit", "retry_after", "html"),
    "answers matching /openai/... calls with an HTTP error, a closed or a reset connection",
)
def _parse_http(raw: dict) -> dict:
    close = bool(field_of(raw, "close", bool, False))
    reset = bool(field_of(raw, "reset", bool, False))
    status = field_of(raw, "status", int)
    bad_status = status is not None and not 400 <= status <= 599
    if (status is not None) + close + reset != 1 or bad_status:
        raise RuleError("http rules need one of 'status' (400..599), 'close' or 'reset'")
    method = field_of(raw, "method", str)
    return {
        "method": method.upper() if method else None,
        "path": regex_of(raw, "path"),
        "status": status,
        "close": close,
        "reset": reset,
        "commit": bool(field_of(raw, "commit", bool, False)),
        "retry_after": field_of(raw, "retry_after", (int, float), 1 if status == 429 else None),
        "html": bool(field_of(raw, "html", bool, status in (502, 503, 504))),
    }


@kind(
    "commit_then_timeout",
    1,
    ("delay", "target"),
    "a create (batch or file upload) takes effect, then its answer stalls for delay seconds",
)
def _parse_commit_then_timeout(raw: dict) -> dict:
    delay = float(field_of(raw, "delay", (int, float), 30.0))
    if delay <= 0:
        raise RuleError("commit_then_timeout delay must be positive")
    return {"delay": delay, "target": choice_of(raw, "target", ("batch", "file"), "batch")}


@kind(
    "token_limit_exceeded",
    1,
    ("stage",),
    "enqueued-token quota: 400 at create, or the batch fails after validation",
)
def _parse_token_limit(raw: dict) -> dict:
    return {"stage": choice_of(raw, "stage", ("create", "validation"), "create")}


@kind(
    "file_status",
    1,
    ("status",),
    "an upload stays pending for ever, or turns error when processing would end",
)
def _parse_file_status(raw: dict) -> dict:
    return {"status": choice_of(raw, "status", ("pending", "error"), "error")}


@kind(
    "output_anomaly",
    1,
    ("duplicate", "unknown", "lost"),
    "a finished batch's output repeats answers, adds unknown custom_ids, loses lines",
)
def _parse_output_anomaly(raw: dict) -> dict:
    return {
        "duplicate": count_of(raw, "duplicate", 1),
        "unknown": count_of(raw, "unknown", 1),
        "lost": count_of(raw, "lost", 0),
    }


@kind(
    "odd_shape",
    1,
    ("shape", "custom_id", "count"),
    "output lines with odd shapes: choices not objects, response a string, body a list, not JSON",
)
def _parse_odd_shape(raw: dict) -> dict:
    return {
        "shape": choice_of(raw, "shape", ODD_SHAPES, None),
        "custom_id": regex_of(raw, "custom_id"),
        "count": count_of(raw, "count", 1),
    }


@kind(
    "truncated_answer",
    None,
    ("custom_id", "fraction"),
    'answers cut short with finish_reason "length" (structured outputs: JSON that does not parse)',
)
def _parse_truncated_answer(raw: dict) -> dict:
    return {"custom_id": regex_of(raw, "custom_id"), "fraction": fraction_of(raw, "fraction", 0.5)}


@kind(
    "misconfigured",
    None,
    ("problem", "status"),
    "every call answers 401 (wrong_key), 403 (missing_permission) or 404 (wrong_endpoint)",
)
def _parse_misconfigured(raw: dict) -> dict:
    problem = choice_of(raw, "problem", PROBLEMS, None)
    status = field_of(raw, "status", int, 403 if problem == "missing_permission" else None)
    if problem == "missing_permission" and status not in (401, 403):
        raise RuleError("misconfigured status must be 401 or 403 for missing_permission")
    if problem != "missing_permission" and "status" in raw:
        raise RuleError("misconfigured status applies only to missing_permission")
    return {"problem": problem, "status": status}


def _parse_objects(raw: dict) -> dict:
    objects = field_of(raw, "objects", list, list(OBJECTS))
    if any(o not in OBJECTS for o in objects):
        raise RuleError("quirk 'objects' may only list 'batch' and 'file'")
    return {"objects": tuple(objects)}


kind("capitalize_status", None, ("objects",), 'statuses like "Validating", "Processed"')(
    _parse_objects
)
kind("iso_timestamps", None, ("objects",), 'timestamps as "2024-08-09T12:00:00Z" strings')(
    _parse_objects
)


@kind("null_request_counts", None, ("statuses",), "batches show request_counts: null")
def _parse_null_counts(raw: dict) -> dict:
    statuses = field_of(raw, "statuses", list)
    return {"statuses": None if statuses is None else frozenset(statuses)}


# ----- hooks: where a rule applies -------------------------------------------------------------


def http_fault(faults: Faults, method: str, path: str, scope: Scope) -> dict | None:
    def match(p: dict) -> bool:
        return (p["method"] in (None, method)) and bool(p["path"].search(path))

    return faults.take("http", scope, match)


PERMISSION_DENIED = "Principal does not have access to API/Operation."


def misconfiguration(faults: Faults, scope: Scope) -> ApiError | None:
    """The error a wrong setting gives on every call, until the rule is cleared."""
    params = faults.take("misconfigured", scope)
    if params is None:
        return None
    if params["problem"] == "wrong_key":
        return unauthorized()
    if params["problem"] == "wrong_endpoint":
        return not_found()
    return ApiError(params["status"], "PermissionDenied", PERMISSION_DENIED)


def line_fault(faults: Faults, custom_id: str, scope: Scope) -> dict | None:
    """Counts an attempt for `custom_id` and returns the failure to inject, if any."""
    if not faults.any_active("line_failure"):
        return None  # attempts count from when rules are set, so none need counting now
    attempt = faults.next_attempt(custom_id)

    def match(p: dict) -> bool:
        limit = p["attempts"]
        return bool(p["custom_id"].search(custom_id)) and (limit is None or attempt <= limit)

    return faults.take("line_failure", scope, match)


def truncation(faults: Faults, custom_id: str, scope: Scope) -> float | None:
    """The fraction of the answer to keep, when it is to be cut short."""
    params = faults.take(
        "truncated_answer", scope, lambda p: bool(p["custom_id"].search(custom_id))
    )
    return None if params is None else params["fraction"]


def batch_outcome(faults: Faults, scope: Scope) -> dict | None:
    return faults.take("batch_outcome", scope)


def commit_delay(faults: Faults, target: str, scope: Scope) -> float | None:
    params = faults.take("commit_then_timeout", scope, lambda p: p["target"] == target)
    return None if params is None else params["delay"]


def file_status(faults: Faults, scope: Scope) -> str | None:
    """An upload that never gets processed ("pending") or fails processing ("error")."""
    params = faults.take("file_status", scope)
    return None if params is None else params["status"]


def token_limit(faults: Faults, stage: str, scope: Scope) -> bool:
    return faults.take("token_limit_exceeded", scope, lambda p: p["stage"] == stage) is not None


# ----- output tampering ------------------------------------------------------------------------


def tamper_output(
    faults: Faults, scope: Scope, ok: list[bytes], failed: list[bytes]
) -> tuple[list[bytes], list[bytes]]:
    """The output and error lines a buggy service might write instead of the right ones."""
    anomaly = faults.take("output_anomaly", scope)
    if anomaly is not None:
        ok, failed = _anomalies(anomaly, ok, failed)
    odd = faults.take("odd_shape", scope)
    if odd is not None:
        ok = _odd_shapes(odd, ok)
    return ok, failed


def _anomalies(
    params: dict, ok: list[bytes], failed: list[bytes]
) -> tuple[list[bytes], list[bytes]]:
    # Repeats carry another answer text, so merging them silently would change a result.
    repeats = [
        line.replace(b'"content":"', b'"content":"(repeat) ', 1)
        for line in ok[: params["duplicate"]]
    ]
    strangers = [
        line.replace(b'"custom_id":"', b'"custom_id":"stranger-', 1)
        for line in ok[: params["unknown"]]
    ]
    # Lost lines are the last ones, answers first, so they are never the repeated ones.
    lost = params["lost"]
    from_failed = max(0, lost - len(ok))
    kept_ok = ok[: max(0, len(ok) - lost)]
    kept_failed = failed[: max(0, len(failed) - from_failed)]
    return kept_ok + repeats + strangers, kept_failed


def _odd_shapes(params: dict, ok: list[bytes]) -> list[bytes]:
    out, left = [], params["count"]
    for line in ok:
        if left > 0 and params["custom_id"].search(orjson.loads(line)["custom_id"]):
            line, left = reshape(line, params["shape"]), left - 1
        out.append(line)
    return out


def reshape(line: bytes, shape: str) -> bytes:
    if shape == "not_json":
        return line[: len(line) // 2]
    data = orjson.loads(line)
    response = data["response"]
    body = response["body"]
    if shape == "response_string":
        data["response"] = orjson.dumps(response).decode()
    elif shape == "body_list":
        response["body"] = [body]
    else:
        key = "choices" if "choices" in body else "output"
        body[key] = [_text_of(item) for item in body[key]]
    return orjson.dumps(data)


def _text_of(item: dict) -> str:
    """A choice (or Responses output item) flattened to its text."""
    if isinstance(item.get("message"), dict):
        return str(item["message"].get("content"))
    content = item.get("content") or [{}]
    return str(content[0].get("text"))


# ----- quirks: how objects are rendered --------------------------------------------------------


def _capitalize(obj: dict) -> None:
    if isinstance(obj.get("status"), str):
        obj["status"] = obj["status"].capitalize()


def _iso(obj: dict) -> None:
    for name in TIMESTAMP_FIELDS:
        if isinstance(obj.get(name), int):
            stamp = datetime.fromtimestamp(obj[name], UTC)
            obj[name] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _null_counts(obj: dict) -> None:
    obj["request_counts"] = None


def apply_quirks(faults: Faults, object_kind: str, obj: dict, scope: Scope) -> dict:
    status = obj.get("status")

    def for_object(p: dict) -> bool:
        return object_kind in p["objects"]

    def counted(p: dict) -> bool:
        return object_kind == "batch" and (p["statuses"] is None or status in p["statuses"])

    # Order matters: request-count rules look at the status before it is capitalized.
    if faults.take("null_request_counts", scope, counted) is not None:
        _null_counts(obj)
    if faults.take("iso_timestamps", scope, for_object) is not None:
        _iso(obj)
    if faults.take("capitalize_status", scope, for_object) is not None:
        _capitalize(obj)
    return obj


# ----- error bodies ----------------------------------------------------------------------------

LINE_ERRORS: dict[int, tuple[str, str]] = {
    0: ("Timeout", "The operation was timeout."),
    400: (
        "content_filter",
        "The response was filtered due to the prompt triggering Azure OpenAI's content "
        "management policy.",
    ),
    408: ("Timeout", "The request timed out."),
    429: (
        "429",
        "Requests to the ChatCompletions_Create Operation have exceeded the token rate limit "
        "of your current OpenAI S0 pricing tier. Please retry after 60 seconds.",
    ),
}
DEFAULT_LINE_ERROR = ("InternalServerError", "The server had an error processing your request.")


def line_error(params: dict) -> tuple[int, dict[str, str]]:
    """Status code and `{"code", "message"}` for an injected line failure."""
    status = params["status_code"]
    code, message = LINE_ERRORS.get(status, DEFAULT_LINE_ERROR)
    return status, {"code": params["code"] or code, "message": params["message"] or message}


HTML_ERROR = (
    "<html><head><title>{status} {reason}</title></head><body><center><h1>{status} {reason}"
    "</h1></center><hr><center>Microsoft-Azure-Application-Gateway/v2</center></body></html>"
)
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    401: ("401", unauthorized().message),
    403: ("PermissionDenied", PERMISSION_DENIED),
    404: ("404", "Resource not found"),
    429: ("429", "Rate limit is exceeded. Try again in {retry} seconds."),
    500: ("InternalServerError", "The service encountered an internal error."),
    503: ("ServiceUnavailable", "The service is temporarily unable to process your request."),
}
