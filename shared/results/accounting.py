"""What a finished job used and cost: summary.json's `cost` block from the merge's tally and the
price table (shared/costs.py, BATCH_PRICES over its examples), and the requests, tokens and
cost metrics per deployment. Estimates, never an invoice."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from shared.costs import estimate_cost, price_source, price_table
from shared.results.billed import Billing
from shared.results.tally import DeploymentTally, Tally
from shared.telemetry import metrics

OWN = "the prices in BATCH_PRICES"
EXAMPLES = "the example list prices in shared/costs.py (examples, not promises)"
ADVICE = " Set BATCH_PRICES to the prices you pay."


def cost_summary(tally: Tally, prices: Mapping[str, Mapping[str, float]]) -> dict[str, Any]:
    """Batch cost, the same tokens at standard (online) prices, and the saving, per deployment
    priced by the model its answers came from."""
    usage = {name: d.usage for name, d in tally.by_deployment.items() if name}
    models = {name: d.model for name, d in tally.by_deployment.items() if name and d.model}
    cost = estimate_cost(usage, models, price_table(prices))
    for row in cost["by_deployment"].values():
        row["prices"] = price_source(row["model"], prices)
    cost["note"] = price_note(cost["by_deployment"])
    return cost


def price_note(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """Which prices were used for which deployment: never BATCH_PRICES for a deployment the
    examples priced (BATCH_PRICES may name other models only)."""
    used = {
        text: sorted(d for d, r in rows.items() if r.get("prices") == source)
        for source, text in (("BATCH_PRICES", OWN), ("examples", EXAMPLES))
    }
    said = [f"{text} for {', '.join(deps)}" for text, deps in used.items() if deps]
    unpriced = sorted(d for d, r in rows.items() if r.get("prices") is None and r.get("tokens"))
    if unpriced:
        missing = ", ".join(unpriced)
        said.append(
            f"no price for {missing} (its model is in neither BATCH_PRICES nor the examples)"
        )
    if not said:
        return "No tokens were used." + ADVICE
    advice = ADVICE if used[EXAMPLES] or unpriced else ""
    return f"Estimated from the token usage at {'; '.join(said)}.{advice}"


def report(billing: Billing, prices: Mapping[str, Mapping[str, float]]) -> None:
    """This run's requests by outcome, tokens in and out (and reasoning) and estimated cost,
    per deployment, once per finished run: a person's retry adds its own requests, tokens and
    cost, never the kept results' again, so each metric sums to what summary.json says. Never
    raises (the metric functions swallow errors)."""
    for name, deployment in billing.run.items():
        metrics.record_requests(name, deployment.succeeded, deployment.failed)
        usage = deployment.usage
        metrics.record_tokens(
            name, usage["prompt_tokens"], usage["completion_tokens"], usage["reasoning_tokens"]
        )
    # This run's cost: the billed total less the runs before, priced alike, so that the runs'
    # metrics add up to the total exactly.
    total = cost_summary(billing.tally(billing.billed), prices)["by_deployment"]
    before = cost_summary(billing.tally(_priced_as(billing)), prices)["by_deployment"]
    for name, row in total.items():
        if row.get("cost") is None:
            continue
        earlier = before.get(name) or {}
        cost = row["cost"] - (earlier.get("cost") or 0.0)
        standard = row["standard_cost"] - (earlier.get("standard_cost") or 0.0)
        metrics.record_cost(name, row.get("model") or "", max(cost, 0.0), max(standard, 0.0))


def _priced_as(billing: Billing) -> dict[str, DeploymentTally]:
    """The usage of the runs before, with the models the billed total is priced by."""
    return {
        name: replace(d, models=billing.billed[name].models if name in billing.billed else {})
        for name, d in billing.before.items()
    }
