"""Counts, finish reasons and token usage over a job's results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.results.answers import TRUNCATED

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
    finish_reasons: dict[str, int] = field(default_factory=dict)  # "stop", "length", ...

    def add(self, result: dict[str, Any]) -> None:
        self.total += 1
        if result["status"] == "succeeded":
            self.succeeded += 1
        else:
            self.failed += 1
        reason = result.get("finish_reason")
        if reason is not None:
            self.finish_reasons[reason] = self.finish_reasons.get(reason, 0) + 1
        add_usage(self.usage, result.get("response"))

    @property
    def warnings(self) -> list[str]:
        """Answers cut off by a token limit: counted, so that none passes unnoticed."""
        cut = self.finish_reasons.get(TRUNCATED, 0)
        if not cut:
            return []
        return [
            f'{cut} answer(s) were cut off by a token limit (finish_reason "length"); '
            "finish_reason in results.jsonl and results.csv names them. Raise max_tokens "
            '(max_completion_tokens, or max_output_tokens for responses) in _job.json "body" '
            "or the requests to get whole answers."
        ]


def add_usage(totals: dict[str, int], body: object) -> None:
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return
    for key, name in USAGE_NAMES:
        value = usage.get(key)
        if isinstance(value, int) and name in totals:
            totals[name] += value
