"""Billed usage across a job's runs. A person's retry (lifecycle/reopen.py) replaces failed
answers with new ones, but the service billed the replaced answers too (a structured answer cut
off by max_tokens, say): summary.json `usage` and `cost` count every answer the job's batches
returned, in every run, and the requests, tokens and cost metrics count each run's share once.

At reopen, `carry` is stored beside the new work index (work file billed.json): the usage billed
through the runs before (the previous summary.json's `cost.by_deployment`, else its
results.jsonl) and the outcomes and usage of the results the retry keeps. At publish,
`account` splits the merge's tally (every result, kept ones included) into this run's share
(the tally minus the kept results) and the billed total (the runs before plus this one).

Automatic retry rounds inside one run need none of this: they send again only failures that
carry no answer (throttling, server errors, timeouts, lost lines: results/retry.py), which the
service does not bill."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from azure.core.exceptions import ResourceNotFoundError

from shared.jobs.model import Job
from shared.results.tally import USAGE_KEYS, DeploymentTally, Tally
from shared.storage.names import BILLED, work_prefix

if TYPE_CHECKING:
    from shared.deps import Deps

# summary.json's per-deployment token names, and the usage keys they came from.
SUMMARY_TOKENS = (
    ("input_tokens", "prompt_tokens"),
    ("output_tokens", "completion_tokens"),
    ("tokens", "total_tokens"),
    ("reasoning_tokens", "reasoning_tokens"),
)


@dataclass(frozen=True)
class Carry:
    """What a person's retry carries into its run: per deployment, what the runs before it
    billed, and the outcomes and usage of the results it keeps."""

    before: dict[str, DeploymentTally] = field(default_factory=dict)
    kept: dict[str, DeploymentTally] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return orjson.dumps({"before": _dump(self.before), "kept": _dump(self.kept)})

    @classmethod
    def from_json(cls, data: bytes) -> Carry:
        doc = orjson.loads(data)
        return cls(_load(doc.get("before")), _load(doc.get("kept")))


@dataclass(frozen=True)
class Billing:
    """A finished run's usage: this run's share (for the metrics), the billed total (for
    summary.json), and what the runs before billed (to price this run's share alone)."""

    run: dict[str, DeploymentTally]
    billed: dict[str, DeploymentTally]
    before: dict[str, DeploymentTally]

    def tally(self, which: dict[str, DeploymentTally]) -> Tally:
        """A Tally over `which` (usage and outcomes only), for cost_summary."""
        tally = Tally(by_deployment=which)
        for deployment in which.values():
            for key in USAGE_KEYS:
                tally.usage[key] += deployment.usage.get(key, 0)
        return tally


def earlier(summary_doc: Any, results: Tally) -> dict[str, DeploymentTally]:
    """What the runs so far billed, per deployment: the previous summary.json's cost rows
    (which count replaced answers too), else the usage of its results."""
    cost = summary_doc.get("cost") if isinstance(summary_doc, dict) else None
    rows = cost.get("by_deployment") if isinstance(cost, dict) else None
    if not isinstance(rows, dict):
        return dict(results.by_deployment)
    before: dict[str, DeploymentTally] = {}
    for name, row in rows.items():
        if isinstance(row, dict):
            usage = {key: _count(row.get(column)) for column, key in SUMMARY_TOKENS}
            model = row.get("model")
            models = {model: 1} if isinstance(model, str) and model else {}
            before[str(name)] = DeploymentTally(usage=usage, models=models)
    return before


def store_carry(deps: Deps, job: Job, carry: Carry) -> None:
    deps.work.upload_blob(work_prefix(job.job_id) + BILLED, carry.to_json(), overwrite=True)


def read_carry(deps: Deps, job: Job) -> Carry:
    """The carry of a person's retry; empty for a job's first run."""
    if not job.first_part:
        return Carry()
    try:
        return Carry.from_json(deps.work.download_blob(work_prefix(job.job_id) + BILLED).readall())
    except ResourceNotFoundError:
        return Carry()  # reopened before billed usage was carried: its results alone


def account(results: Tally, carry: Carry) -> Billing:
    """This run's share: every result but the kept ones; billed: the runs before plus it."""
    run = {
        name: _minus(deployment, carry.kept.get(name))
        for name, deployment in results.by_deployment.items()
    }
    billed = {name: _plus(carry.before.get(name), run.get(name)) for name in {*carry.before, *run}}
    return Billing(run=run, billed=billed, before=carry.before)


def _minus(total: DeploymentTally, kept: DeploymentTally | None) -> DeploymentTally:
    if kept is None:
        return total
    return DeploymentTally(
        succeeded=max(total.succeeded - kept.succeeded, 0),
        failed=max(total.failed - kept.failed, 0),
        usage={k: max(v - kept.usage.get(k, 0), 0) for k, v in total.usage.items()},
        models={
            m: n - kept.models.get(m, 0)
            for m, n in total.models.items()
            if n > kept.models.get(m, 0)
        },
    )


def _plus(a: DeploymentTally | None, b: DeploymentTally | None) -> DeploymentTally:
    a, b = a or DeploymentTally(), b or DeploymentTally()
    return DeploymentTally(
        succeeded=a.succeeded + b.succeeded,
        failed=a.failed + b.failed,
        usage={k: a.usage.get(k, 0) + b.usage.get(k, 0) for k in USAGE_KEYS},
        # This run's model names the deployment when it answered; else the one before.
        models=dict(b.models or a.models),
    )


def _dump(tallies: dict[str, DeploymentTally]) -> dict[str, Any]:
    return {
        name: {"succeeded": d.succeeded, "failed": d.failed, "usage": d.usage, "models": d.models}
        for name, d in tallies.items()
    }


def _load(doc: Any) -> dict[str, DeploymentTally]:
    if not isinstance(doc, dict):
        return {}
    return {
        str(name): DeploymentTally(
            succeeded=_count(d.get("succeeded")),
            failed=_count(d.get("failed")),
            usage={k: _count((d.get("usage") or {}).get(k)) for k in USAGE_KEYS},
            models={str(m): _count(n) for m, n in (d.get("models") or {}).items()},
        )
        for name, d in doc.items()
        if isinstance(d, dict)
    }


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
