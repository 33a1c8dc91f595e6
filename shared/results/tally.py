"""Counts, finish reasons and token usage over a job's results, in all and per deployment, with
the model each deployment served (the answers' own `model`, for the price table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.results.answers import TRUNCATED

USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens", "reasoning_tokens")
USAGE_NAMES = (  # (key in a usage object, the total it counts towards)
    ("prompt_tokens", "prompt_tokens"),
    ("completion_tokens", "completion_tokens"),
    ("total_tokens", "total_tokens"),
    # Responses API bodies name their token counts differently.
    ("input_tokens", "prompt_tokens"),
    ("output_tokens", "completion_tokens"),
)
# Reasoning tokens, where the service reports them: a part of the completion (output) tokens.
REASONING = ("completion_tokens_details", "output_tokens_details")
MAX_MODELS = 8  # served model names kept per deployment: the service's text, so bounded


def _zeros() -> dict[str, int]:
    return dict.fromkeys(USAGE_KEYS, 0)


@dataclass
class DeploymentTally:
    """One deployment's outcomes, tokens and the model versions its answers named."""

    succeeded: int = 0
    failed: int = 0
    usage: dict[str, int] = field(default_factory=_zeros)
    models: dict[str, int] = field(default_factory=dict)

    @property
    def model(self) -> str | None:
        """The model most of its answers came from (a deployment may be upgraded mid-job)."""
        return max(self.models, key=lambda m: (self.models[m], m)) if self.models else None


@dataclass
class Tally:
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    usage: dict[str, int] = field(default_factory=_zeros)
    finish_reasons: dict[str, int] = field(default_factory=dict)  # "stop", "length", ...
    by_deployment: dict[str, DeploymentTally] = field(default_factory=dict)

    def add(self, result: dict[str, Any]) -> None:
        self.total += 1
        request = result.get("request")
        name = request.get("model") if isinstance(request, dict) else None
        deployment = self.by_deployment.get(name or "")
        if deployment is None:
            deployment = self.by_deployment[name or ""] = DeploymentTally()
        if result["status"] == "succeeded":
            self.succeeded += 1
            deployment.succeeded += 1
        else:
            self.failed += 1
            deployment.failed += 1
        reason = result.get("finish_reason")
        if reason is not None:
            self.finish_reasons[reason] = self.finish_reasons.get(reason, 0) + 1
        body = result.get("response")
        if isinstance(body, dict):
            _add_body(self.usage, deployment, body)

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


def _add_body(totals: dict[str, int], deployment: DeploymentTally, body: dict[str, Any]) -> None:
    model = body.get("model")
    if isinstance(model, str) and model:
        models = deployment.models
        if model in models or len(models) < MAX_MODELS:
            models[model] = models.get(model, 0) + 1
    usage = body.get("usage")
    if isinstance(usage, dict):
        add_usage(totals, usage)
        add_usage(deployment.usage, usage)


def add_usage(totals: dict[str, int], usage: dict[str, Any]) -> None:
    for key, name in USAGE_NAMES:
        value = usage.get(key)
        if isinstance(value, int) and name in totals:
            totals[name] += value
    for key in REASONING:
        details = usage.get(key)
        value = details.get("reasoning_tokens") if isinstance(details, dict) else None
        if isinstance(value, int) and value > 0:
            totals["reasoning_tokens"] += value
