"""Cost estimates: batch price against the standard price, per deployment's model."""

from __future__ import annotations

import pytest

from shared.config import Settings
from shared.costs import EXAMPLE_PRICES, Price, estimate_cost, price_of, price_table


def test_batch_examples_are_half_the_standard_price():
    for model, price in EXAMPLE_PRICES.items():
        assert price.batch_input == pytest.approx(price.input / 2), model
        assert price.batch_output == pytest.approx(price.output / 2), model


@pytest.mark.parametrize(
    ("served", "expected"),
    [
        ("gpt-4o-mini", "gpt-4o-mini"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("GPT-4o-2024-08-06", "gpt-4o"),
        ("gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
    ],
)
def test_a_served_version_is_priced_as_its_model(served, expected):
    assert price_of(served, EXAMPLE_PRICES) == EXAMPLE_PRICES[expected]


@pytest.mark.parametrize("model", [None, "", "gpt-4o-turbo", "my-finetune", "gpt-4o-mini-batch"])
def test_unknown_models_have_no_price_rather_than_a_neighbours(model):
    # gpt-4o-turbo must not be priced as gpt-4o, nor a deployment name as its model.
    assert price_of(model, EXAMPLE_PRICES) is None


def test_overrides_replace_and_extend_the_examples():
    table = price_table(
        {
            "gpt-4o": {"input": 5, "output": 15, "batch_input": 2.5, "batch_output": 7.5},
            "My-Model": {"input": 1, "output": 1, "batch_input": 0.4, "batch_output": 0.4},
        }
    )
    assert table["gpt-4o"] == Price(5, 15, 2.5, 7.5)
    assert table["my-model"] == Price(1, 1, 0.4, 0.4)
    assert table["gpt-4o-mini"] == EXAMPLE_PRICES["gpt-4o-mini"]
    assert price_table() == EXAMPLE_PRICES


def test_the_setting_feeds_the_table():
    raw = '{"x-1": {"input": 3, "output": 6, "batch_input": 1, "batch_output": 2}}'
    settings = Settings.from_env(
        {
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
            "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:1",
            "BATCH_PRICES": raw,
        }
    )
    assert price_of("x-1-2026-01-01", price_table(settings.prices)) == Price(3, 6, 1, 2)


PRICES = {"m": Price(input=2.0, output=8.0, batch_input=1.0, batch_output=4.0)}


def test_cost_standard_cost_and_saving():
    usage = {
        "dep-a": {"prompt_tokens": 1_000_000, "completion_tokens": 500_000, "total_tokens": 1},
        # Responses API names, and an unknown model: left out of the sums, listed.
        "dep-b": {"input_tokens": 10, "output_tokens": 10},
    }
    result = estimate_cost(usage, {"dep-a": "m-2026-01-02", "dep-b": "other"}, PRICES)
    assert result["cost"] == pytest.approx(1.0 + 2.0)
    assert result["standard_cost"] == pytest.approx(2.0 + 4.0)
    assert result["saving"] == pytest.approx(3.0)
    assert result["currency"] == "USD"
    assert result["unpriced"] == ["dep-b"]
    assert result["by_deployment"]["dep-a"]["input_tokens"] == 1_000_000
    assert result["by_deployment"]["dep-b"]["cost"] is None


def test_small_usage_keeps_fractions_of_a_cent():
    result = estimate_cost(
        {"d": {"prompt_tokens": 123, "completion_tokens": 45}}, {"d": "m"}, PRICES
    )
    assert result["cost"] == pytest.approx((123 * 1.0 + 45 * 4.0) / 1e6)
    assert result["cost"] > 0


def test_no_usage_costs_nothing_and_nothing_is_unpriced():
    result = estimate_cost({"d": {"prompt_tokens": 0}}, {}, PRICES)
    assert (result["cost"], result["standard_cost"], result["saving"]) == (0, 0, 0)
    assert result["unpriced"] == []


@pytest.mark.parametrize("bad", [-5, "12", True, None, 1.5])
def test_odd_token_counts_count_as_none(bad):
    result = estimate_cost({"d": {"prompt_tokens": bad}}, {"d": "m"}, PRICES)
    assert result["cost"] == 0
