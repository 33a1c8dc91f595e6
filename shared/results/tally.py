"""Counts and token usage over a job's results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")
USAGE_NAMES = (  # (key in a usage object, the total it counts towards)
    ("prompt_tokens", "prompt_tokens"),
    ("completion_tokens", "completion_tokens"),
    ("total_tokens", "total_tokens"),
    # Responses API bodies name their token counts differently.
    ("input_tokens", "prompt_tokens"),
    ("output_tokens", "completion_tokens"),
)


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
