"""Estimated cost and saving of batch token usage, from a price table per model. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CURRENCY = "USD"
PER_TOKENS = 1_000_000


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens: the Global Standard (online) price and the Global Batch price."""

    input: float
    output: float
    batch_input: float
    batch_output: float


def _half(inp: float, out: float) -> Price:
    # Microsoft prices Global Batch at 50% less than Global Standard ("Getting started with
    # Azure OpenAI batch deployments").
    return Price(inp, out, inp / 2, out / 2)


# EXAMPLES, NOT PROMISES: list prices per 1M tokens as published for Global Standard at the time
# of writing, for illustration only. Prices differ by region, deployment type, agreement and
# date; set BATCH_PRICES to the prices on your own invoice or the Azure OpenAI pricing page.
EXAMPLE_PRICES: dict[str, Price] = {
    "gpt-4o": _half(2.50, 10.00),
    "gpt-4o-mini": _half(0.15, 0.60),
    "gpt-4.1": _half(2.00, 8.00),
    "gpt-4.1-mini": _half(0.40, 1.60),
    "gpt-4.1-nano": _half(0.10, 0.40),
    "o3-mini": _half(1.10, 4.40),
    "o4-mini": _half(1.10, 4.40),
    "gpt-5": _half(1.25, 10.00),
    "gpt-5-mini": _half(0.25, 2.00),
    "gpt-5-nano": _half(0.05, 0.40),
}

# A served model is named after the model plus its version date ("gpt-4o-mini-2024-07-18").
VERSION_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}")
# Token counts as chat completions and the Responses API name them. Reasoning tokens are part
# of the completion (output) tokens and billed as output, so they need no price of their own.
INPUT_KEYS = ("prompt_tokens", "input_tokens")
OUTPUT_KEYS = ("completion_tokens", "output_tokens")


def price_table(overrides: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Price]:
    """The example prices with the BATCH_PRICES entries (Settings.prices) put over them."""
    return {**EXAMPLE_PRICES, **_own(overrides)}


def _own(overrides: Mapping[str, Mapping[str, float]] | None) -> dict[str, Price]:
    return {
        model.lower(): Price(**{k: float(v) for k, v in entry.items()})
        for model, entry in (overrides or {}).items()
    }


def price_source(
    model: str | None, overrides: Mapping[str, Mapping[str, float]] | None
) -> str | None:
    """Which table prices a model: "BATCH_PRICES", "examples", or None (no price). An entry of
    BATCH_PRICES replaces the example of the same name, so it wins wherever both match."""
    if price_of(model, price_table(overrides)) is None:
        return None
    return "BATCH_PRICES" if price_of(model, _own(overrides)) is not None else "examples"


def price_of(model: str | None, prices: Mapping[str, Price]) -> Price | None:
    """The price of a model name, or of a served version of it; never of a different model
    that merely shares a prefix (gpt-4o is not gpt-4o-mini)."""
    if not model:
        return None
    name = model.strip().lower()
    if name in prices:
        return prices[name]
    for key in sorted(prices, key=len, reverse=True):
        if name.startswith(key) and VERSION_SUFFIX.fullmatch(name[len(key) :]):
            return prices[key]
    return None


def estimate_cost(
    usage_by_deployment: Mapping[str, Mapping[str, Any]],
    model_of_deployment: Mapping[str, str],
    prices: Mapping[str, Price],
) -> dict[str, Any]:
    """{cost, standard_cost, saving} in USD over the priced deployments; deployments with usage
    but no known price are listed in `unpriced` and left out of the sums."""
    rows = {
        dep: _row(usage, model_of_deployment.get(dep), prices)
        for dep, usage in usage_by_deployment.items()
    }
    priced = [r for r in rows.values() if r["cost"] is not None]
    cost = sum(r["cost"] for r in priced)
    standard = sum(r["standard_cost"] for r in priced)
    return {
        "currency": CURRENCY,
        "cost": _money(cost),
        "standard_cost": _money(standard),
        "saving": _money(standard - cost),
        "unpriced": sorted(d for d, r in rows.items() if r["cost"] is None and r["tokens"]),
        "by_deployment": rows,
    }


def _row(
    usage: Mapping[str, Any], model: str | None, prices: Mapping[str, Price]
) -> dict[str, Any]:
    tokens_in, tokens_out = _tokens(usage, INPUT_KEYS), _tokens(usage, OUTPUT_KEYS)
    price = price_of(model, prices)
    row: dict[str, Any] = {
        "model": model,
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        # Reported for what they are; as output tokens they are already in the cost.
        "reasoning_tokens": _tokens(usage, ("reasoning_tokens",)),
        "tokens": tokens_in + tokens_out,
        "cost": None,
        "standard_cost": None,
    }
    if price is not None:
        row["cost"] = _money(
            (tokens_in * price.batch_input + tokens_out * price.batch_output) / PER_TOKENS
        )
        row["standard_cost"] = _money(
            (tokens_in * price.input + tokens_out * price.output) / PER_TOKENS
        )
    return row


def _tokens(usage: Mapping[str, Any], keys: tuple[str, ...]) -> int:
    for key in keys:
        value = usage.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0


def _money(value: float) -> float:
    # Micro-dollars: a few hundred tokens cost fractions of a cent.
    return round(value, 6)
