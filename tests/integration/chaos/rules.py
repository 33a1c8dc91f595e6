"""Every emulator fault at once: each kind once for sure, then each with a small chance on
every call, batch, file or line it could apply to, so a seeded run meets all of them together."""

from __future__ import annotations

from collections import Counter
from typing import Any

# (rule, chance at scale 1). The HTTP errors hit every /openai/... call, list calls included.
STORM: tuple[tuple[dict[str, Any], float], ...] = (
    ({"kind": "http", "status": 429, "retry_after": 1}, 0.03),
    ({"kind": "http", "status": 500}, 0.02),
    ({"kind": "http", "status": 502}, 0.02),
    ({"kind": "http", "status": 503}, 0.02),
    ({"kind": "http", "reset": True}, 0.02),
    # The service acts, then the answer is lost: an error, or a stall past the client's timeout.
    ({"kind": "http", "method": "POST", "path": "/files$", "status": 500, "commit": True}, 0.05),
    ({"kind": "http", "method": "POST", "path": "/batches$", "status": 503, "commit": True}, 0.05),
    ({"kind": "commit_then_timeout", "target": "batch", "delay": 3}, 0.05),
    ({"kind": "commit_then_timeout", "target": "file", "delay": 3}, 0.05),
    ({"kind": "token_limit_exceeded", "stage": "create"}, 0.08),
    ({"kind": "token_limit_exceeded", "stage": "validation"}, 0.05),
    ({"kind": "file_status", "status": "pending"}, 0.06),
    ({"kind": "file_status", "status": "error"}, 0.06),
    ({"kind": "batch_outcome", "status": "expired", "fraction": 0.5}, 0.06),
    ({"kind": "batch_outcome", "status": "cancelled", "fraction": 0.4}, 0.02),
    ({"kind": "output_anomaly", "duplicate": 1, "unknown": 1, "lost": 1}, 0.08),
    ({"kind": "odd_shape", "shape": "choices_not_objects"}, 0.04),
    ({"kind": "odd_shape", "shape": "response_string"}, 0.06),
    ({"kind": "odd_shape", "shape": "body_list"}, 0.03),
    ({"kind": "odd_shape", "shape": "not_json"}, 0.03),
    ({"kind": "line_failure", "status_code": 500, "attempts": 1}, 0.05),
    ({"kind": "line_failure", "status_code": 429, "attempts": 2}, 0.03),
    ({"kind": "line_failure", "status_code": 0}, 0.02),
    ({"kind": "line_failure", "status_code": 400}, 0.02),
    ({"kind": "truncated_answer"}, 0.02),
    ({"kind": "capitalize_status"}, 0.3),
    ({"kind": "iso_timestamps"}, 0.3),
    ({"kind": "null_request_counts"}, 0.2),
)


def storm_rules(scale: float = 1.0) -> list[dict[str, Any]]:
    """Each fault once for sure (the first call, file, batch or line it fits), then at random
    with its chance: a run meets every kind however its draws fall."""
    if scale <= 0:
        return []
    once = [{**rule, "times": 1} for rule, _ in STORM]
    random = [{**rule, "times": None, "probability": min(1.0, p * scale)} for rule, p in STORM]
    return once + random


def label(rule: dict[str, Any]) -> str:
    """A rule's kind with what tells it from its siblings (`http 429`, `file_status error`)."""
    detail = [
        str(rule[key])
        for key in ("status", "target", "stage", "shape", "status_code")
        if key in rule
    ]
    if rule.get("reset"):
        detail.append("reset")
    if rule.get("commit"):
        detail.append("after commit")
    return " ".join([rule["kind"], *detail])


def applied_by_kind(described: list[dict[str, Any]]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for rule in described:
        counts[label(rule)] += int(rule.get("applied", 0))
    return dict(sorted(counts.items()))
