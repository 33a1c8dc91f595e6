"""Telemetry around a real job: a prompt file with a canary in every prompt runs through the
registered functions, Azurite and the emulator with telemetry written to a local file. Nothing
here calls the telemetry itself: the store reports each state change as it writes it, the poll
tick its heartbeat, open jobs and poison queues, and publishing the requests, tokens and cost
per deployment; the canary never reaches the telemetry."""

from __future__ import annotations

from shared.deps import default_deps
from shared.telemetry import events, metrics
from tests.conftest import jsonl, run_until
from tests.integration.test_flow import summary_of, upload
from tests.unit.telemetry_kit import CANARY, recorded

DEPLOYMENT = "gpt-4o-mini-batch"


def test_a_real_job_leaves_events_and_metrics_but_no_prompt(app_env, host, tmp_path):
    app_env()
    deps = default_deps()
    rows = [{"custom_id": f"c{i}", "prompt": f"{CANARY} #{i}"} for i in range(4)]
    with recorded(tmp_path) as telemetry:
        upload(deps, "canary/prompts.jsonl", jsonl(rows))
        assert host.deliver_new_blobs() == 1
        run_until(host, lambda: summary_of(deps, "canary/prompts") is not None)
        host.fire_timer()
        [job] = list(deps.store.all_jobs())
        summary = summary_of(deps, "canary/prompts")
        assert summary is not None and summary["status"] == "completed"
        changed = telemetry.events(events.STATE_CHANGED)
        assert {e["attributes"]["job_id"] for e in changed} == {job.job_id}
        steps = [(e["attributes"]["previous_status"], e["attributes"]["status"]) for e in changed]
        assert steps[0] == ("", "received") and steps[-1] == ("completing", "completed")
        assert ("in_progress", "completing") in steps
        final = changed[-1]["attributes"]
        assert final["input_name"] == "canary/prompts.jsonl" and final["requests"] == 4
        assert final["upload_to_results_seconds"] >= 0
        assert final["estimated_cost"] == summary["cost"]["cost"] > 0
        usage = summary["usage"]
        tokens = telemetry.total(metrics.TOKENS, deployment=DEPLOYMENT, direction="input")
        assert tokens == usage["prompt_tokens"] > 0
        assert telemetry.total(metrics.REQUESTS, deployment=DEPLOYMENT, outcome="succeeded") == 4
        assert telemetry.total(metrics.COST, deployment=DEPLOYMENT, price="standard") > 0
        assert telemetry.total(metrics.POLL_TICKS) >= 1
        assert telemetry.last(metrics.JOBS_BY_STATE, status="in_progress") >= 0
        queue = deps.settings.completion_queue + "-poison"
        assert telemetry.last(metrics.POISON_MESSAGES, queue=queue) == 0
        assert CANARY.split(":")[0] not in telemetry.path.read_text()
