"""Fault-injection rules: a table from rule kind to its parser, plus one hook per kind.

Rules are JSON objects `{"kind": ..., "times"?: N, ...}`; `times` is how many more uses a
rule has (null = unlimited). See `devtools/emulator/README.md` for every kind's fields.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

TIMESTAMP_FIELDS = (
    "created_at", "in_progress_at", "expires_at", "finalizing_at", "completed_at",
    "failed_at", "expired_at", "cancelling_at", "cancelled_at",
)  # fmt: skip
OBJECTS = ("batch", "file")


class RuleError(ValueError):
    """A fault rule that cannot be understood."""


@dataclass
class Rule:
    kind: str
    params: dict[str, Any]
    times: int | None
    raw: dict[str, Any]

    def describe(self) -> dict[str, Any]:
        return {**self.raw, "remaining": self.times}


def _field(raw: dict, key: str, types: type | tuple[type, ...], default: Any = None) -> Any:
    value = raw.get(key, default)
    if value is not None and not isinstance(value, types):
        raise RuleError(f"fault field '{key}' has the wrong type")
    return value


def _regex(raw: dict, key: str, default: str = ".*") -> re.Pattern[str]:
    try:
        return re.compile(_field(raw, key, str, default))
    except re.error as exc:
        raise RuleError(f"fault field '{key}' is not a valid regex: {exc}") from exc


def _metadata_match(raw: dict) -> dict[str, re.Pattern[str]]:
    wanted = _field(raw, "metadata", dict, {})
    return {key: _regex(wanted, key) for key in wanted}


def _choice(raw: dict, key: str, allowed: tuple[str, ...], default: str | None) -> str:
    value = raw.get(key, default)
    if value not in allowed:
        raise RuleError(f"fault field '{key}' must be one of {', '.join(allowed)}")
    return value


def _parse_line_failure(raw: dict) -> dict:
    status = _field(raw, "status_code", int, 500)
    if status != 0 and not 400 <= status <= 599:
        raise RuleError("line_failure status_code must be 0 or 400..599")
    return {
        "custom_id": _regex(raw, "custom_id"),
        "status_code": status,
        "attempts": _field(raw, "attempts", int),
        "code": _field(raw, "code", str),
        "message": _field(raw, "message", str),
        "shape": _choice(raw, "shape", ("response", "error"), "response"),
    }


def _parse_batch_outcome(raw: dict) -> dict:
    fraction = float(_field(raw, "fraction", (int, float), 0.5))
    if not 0 <= fraction <= 1:
        raise RuleError("batch_outcome fraction must be within 0..1")
    return {
        "status": _choice(raw, "status", ("expired", "cancelled"), None),
        "fraction": fraction,
        "metadata": _metadata_match(raw),
    }


def _parse_http(raw: dict) -> dict:
    close = bool(_field(raw, "close", bool, False))
    status = _field(raw, "status", int)
    if not close and (status is None or not 400 <= status <= 599):
        raise RuleError("http rules need 'status' in 400..599 or 'close': true")
    method = _field(raw, "method", str)
    return {
        "method": method.upper() if method else None,
        "path": _regex(raw, "path"),
        "status": status,
        "close": close,
        "retry_after": _field(raw, "retry_after", (int, float), 1 if status == 429 else None),
        "html": bool(_field(raw, "html", bool, status in (502, 503, 504))),
    }


def _parse_commit_then_timeout(raw: dict) -> dict:
    delay = float(_field(raw, "delay", (int, float), 30.0))
    if delay <= 0:
        raise RuleError("commit_then_timeout delay must be positive")
    return {"delay": delay, "metadata": _metadata_match(raw)}


def _parse_token_limit(raw: dict) -> dict:
    return {
        "stage": _choice(raw, "stage", ("create", "validation"), "create"),
        "metadata": _metadata_match(raw),
    }


def _parse_file_status(raw: dict) -> dict:
    return {
        "status": _choice(raw, "status", ("pending", "error"), "error"),
        "filename": _regex(raw, "filename"),
    }


def _parse_output_anomaly(raw: dict) -> dict:
    return {
        "duplicate": _field(raw, "duplicate", int, 1),
        "unknown": _field(raw, "unknown", int, 1),
        "metadata": _metadata_match(raw),
    }


def _parse_objects(raw: dict) -> dict:
    objects = _field(raw, "objects", list, list(OBJECTS))
    if any(o not in OBJECTS for o in objects):
        raise RuleError("quirk 'objects' may only list 'batch' and 'file'")
    return {"objects": tuple(objects)}


def _parse_null_counts(raw: dict) -> dict:
    statuses = _field(raw, "statuses", list)
    return {"statuses": None if statuses is None else frozenset(statuses)}


@dataclass(frozen=True)
class Spec:
    parse: Callable[[dict], dict]
    default_times: int | None


KINDS: dict[str, Spec] = {
    "line_failure": Spec(_parse_line_failure, None),
    "batch_outcome": Spec(_parse_batch_outcome, 1),
    "http": Spec(_parse_http, 1),
    "commit_then_timeout": Spec(_parse_commit_then_timeout, 1),
    "token_limit_exceeded": Spec(_parse_token_limit, 1),
    "file_status": Spec(_parse_file_status, 1),
    "output_anomaly": Spec(_parse_output_anomaly, 1),
    "capitalize_status": Spec(_parse_objects, None),
    "iso_timestamps": Spec(_parse_objects, None),
    "null_request_counts": Spec(_parse_null_counts, None),
}


def parse_rule(raw: Any) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError("each fault rule must be a JSON object")
    spec = KINDS.get(raw.get("kind"))  # type: ignore[arg-type]
    if spec is None:
        raise RuleError(f"unknown fault kind {raw.get('kind')!r}; known: {', '.join(KINDS)}")
    times = _field(raw, "times", int, spec.default_times)
    return Rule(kind=raw["kind"], params=spec.parse(raw), times=times, raw=dict(raw))


class Faults:
    """The active rules and the per-custom_id attempt counter (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._attempts: Counter[str] = Counter()

    def replace(self, raw_rules: Any) -> None:
        if not isinstance(raw_rules, list):
            raise RuleError("faults must be a JSON list of rules")
        rules = [parse_rule(raw) for raw in raw_rules]
        with self._lock:
            self._rules = rules
            self._attempts.clear()

    def clear(self) -> None:
        self.replace([])

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def take(self, kind: str, match: Callable[[dict], bool] = lambda _: True) -> dict | None:
        """Use up one application of the first live matching rule of `kind`."""
        with self._lock:
            for rule in self._rules:
                if rule.kind == kind and rule.times != 0 and match(rule.params):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule.params
        return None

    def active(self, kind: str) -> list[dict]:
        with self._lock:
            return [r.params for r in self._rules if r.kind == kind and r.times != 0]

    def next_attempt(self, custom_id: str) -> int:
        with self._lock:
            self._attempts[custom_id] += 1
            return self._attempts[custom_id]


def _metadata_matches(params: dict, metadata: dict[str, str] | None) -> bool:
    metadata = metadata or {}
    return all(
        isinstance(metadata.get(key), str) and pattern.search(metadata[key])
        for key, pattern in params["metadata"].items()
    )


def http_fault(faults: Faults, method: str, path: str) -> dict | None:
    def match(p: dict) -> bool:
        return (p["method"] in (None, method)) and bool(p["path"].search(path))

    return faults.take("http", match)


def line_fault(faults: Faults, custom_id: str) -> dict | None:
    """Counts an attempt for `custom_id` and returns the failure to inject, if any."""
    attempt = faults.next_attempt(custom_id)
    for params in faults.active("line_failure"):
        limit = params["attempts"]
        if params["custom_id"].search(custom_id) and (limit is None or attempt <= limit):
            return params
    return None


def batch_outcome(faults: Faults, metadata: dict | None) -> dict | None:
    return faults.take("batch_outcome", lambda p: _metadata_matches(p, metadata))


def commit_delay(faults: Faults, metadata: dict | None) -> float | None:
    params = faults.take("commit_then_timeout", lambda p: _metadata_matches(p, metadata))
    return None if params is None else params["delay"]


def file_status(faults: Faults, filename: str) -> str | None:
    """An upload that never gets processed ("pending") or fails processing ("error")."""
    params = faults.take("file_status", lambda p: bool(p["filename"].search(filename)))
    return None if params is None else params["status"]


def output_anomalies(faults: Faults, metadata: dict | None, ok: list[bytes]) -> list[bytes]:
    """Extra output lines a buggy service might write: repeats of real answers (with another
    answer text) and answers for custom_ids nobody asked about."""
    params = faults.take("output_anomaly", lambda p: _metadata_matches(p, metadata))
    if params is None:
        return []
    repeats = [
        line.replace(b'"content":"', b'"content":"(repeat) ', 1)
        for line in ok[: params["duplicate"]]
    ]
    strangers = [
        line.replace(b'"custom_id":"', b'"custom_id":"stranger-', 1)
        for line in ok[: params["unknown"]]
    ]
    return repeats + strangers


def token_limit(faults: Faults, stage: str, metadata: dict | None) -> bool:
    def match(p: dict) -> bool:
        return p["stage"] == stage and _metadata_matches(p, metadata)

    return faults.take("token_limit_exceeded", match) is not None


def _capitalize(params: dict, kind: str, obj: dict) -> None:
    if kind in params["objects"] and isinstance(obj.get("status"), str):
        obj["status"] = obj["status"].capitalize()


def _iso(params: dict, kind: str, obj: dict) -> None:
    if kind not in params["objects"]:
        return
    for name in TIMESTAMP_FIELDS:
        if isinstance(obj.get(name), int):
            stamp = datetime.fromtimestamp(obj[name], UTC)
            obj[name] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _null_counts(params: dict, kind: str, obj: dict) -> None:
    statuses = params["statuses"]
    if kind == "batch" and (statuses is None or obj.get("status") in statuses):
        obj["request_counts"] = None


QUIRKS: dict[str, Callable[[dict, str, dict], None]] = {
    # Order matters: request-count rules look at the status before it is capitalized.
    "null_request_counts": _null_counts,
    "iso_timestamps": _iso,
    "capitalize_status": _capitalize,
}


def apply_quirks(faults: Faults, kind: str, obj: dict) -> dict:
    for name, quirk in QUIRKS.items():
        for params in faults.active(name):
            quirk(params, kind, obj)
    return obj


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
    429: ("429", "Rate limit is exceeded. Try again in {retry} seconds."),
    500: ("InternalServerError", "The service encountered an internal error."),
    503: ("ServiceUnavailable", "The service is temporarily unable to process your request."),
}
