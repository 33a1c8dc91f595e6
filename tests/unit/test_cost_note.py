"""summary.json `cost.note` and each deployment's `prices`: which price table priced which
deployment, never BATCH_PRICES for one the example table priced."""

from __future__ import annotations

from typing import Any

from shared.results.accounting import cost_summary
from shared.results.tally import Tally

OWN_GPT41 = {"gpt-4.1": {"input": 2, "output": 8, "batch_input": 1, "batch_output": 4}}


def answered(deployment: str, model: str, prompt: int, completion: int) -> dict[str, Any]:
    usage = {"prompt_tokens": prompt, "completion_tokens": completion}
    return {
        "status": "succeeded",
        "request": {"model": deployment},
        "response": {"model": model, "usage": usage},
        "finish_reason": "stop",
    }


def test_a_deployment_priced_from_the_examples_is_never_said_to_use_batch_prices():
    tally = Tally()
    tally.add(answered("mini-batch", "gpt-4o-mini-2024-07-18", 1000, 1000))
    cost = cost_summary(tally, OWN_GPT41)  # BATCH_PRICES names another model only
    assert cost["cost"] == cost_summary(tally, {})["cost"] > 0  # the example price was used
    assert cost["by_deployment"]["mini-batch"]["prices"] == "examples"
    assert "example" in cost["note"] and "BATCH_PRICES for" not in cost["note"], cost["note"]


def test_the_note_names_the_prices_of_each_deployment():
    tally = Tally()
    tally.add(answered("mini-batch", "gpt-4o-mini", 100, 10))
    tally.add(answered("big-batch", "gpt-4.1-2025-04-14", 100, 10))
    tally.add(answered("own-batch", "my-finetune", 100, 10))
    cost = cost_summary(tally, OWN_GPT41)
    sources = {d: r["prices"] for d, r in cost["by_deployment"].items()}
    assert sources == {"mini-batch": "examples", "big-batch": "BATCH_PRICES", "own-batch": None}
    note = cost["note"]
    assert "BATCH_PRICES for big-batch" in note
    assert "(examples, not promises) for mini-batch" in note
    assert "no price for own-batch" in note and cost["unpriced"] == ["own-batch"]


def test_only_own_prices_need_no_advice_to_set_them():
    tally = Tally()
    tally.add(answered("big-batch", "gpt-4.1", 100, 10))
    note = cost_summary(tally, OWN_GPT41)["note"]
    assert note == "Estimated from the token usage at the prices in BATCH_PRICES for big-batch."
