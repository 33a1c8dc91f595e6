"""Telemetry around a real job: a prompt file with a canary in every prompt runs through the
registered functions, Azurite and the emulator with telemetry written to a local file. The
poll timer's heartbeat is recorded by the trigger itself; the job's events and token metrics
are reported from what the store and summary.json hold (the store calls job_state_changed on
each status change once it is wired), and the canary never reaches the telemetry."""

from __future__ import annotations

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from shared.telemetry import events, metrics
from tests.conftest import jsonl, run_until
from tests.integration.test_flow import summary_of, upload
from tests.unit.telemetry_kit import CANARY, recorded


def test_a_real_job_leaves_events_and_metrics_but_no_prompt(app_env, host, tmp_path):
    app_env()
    deps = default_deps()
    rows = [{"custom_id": f"c{i}", "prompt": f"{CANARY} #{i}"} for i in range(4)]
    with recorded(tmp_path) as telemetry:
        upload(deps, "canary/prompts.jsonl", jsonl(rows))
        assert host.deliver_new_blobs() == 1
        run_until(host, lambda: summary_of(deps, "canary/prompts") is not None)
        host.fire_timer()  # the trigger records the poller's heartbeat
        [job] = list(deps.store.all_jobs())
        summary = summary_of(deps, "canary/prompts")
        assert summary is not None and summary["status"] == "completed"
        events.job_state_changed(job, JobStatus.COMPLETING)
        usage = summary["usage"]
        for deployment in job.deployments:
            metrics.record_tokens(deployment, usage["prompt_tokens"], usage["completion_tokens"])
            metrics.record_requests(deployment, job.succeeded, job.failed)
        assert telemetry.total(metrics.POLL_TICKS) >= 1
        [event] = telemetry.events(events.STATE_CHANGED)
        assert event["attributes"]["job_id"] == job.job_id
        assert event["attributes"]["input_name"] == "canary/prompts.jsonl"
        assert event["attributes"]["requests"] == 4
        assert "upload_to_results_seconds" in event["attributes"]
        tokens = telemetry.total(metrics.TOKENS, deployment="gpt-4o-mini-batch", direction="input")
        assert tokens == usage["prompt_tokens"] > 0
        assert telemetry.total(metrics.REQUESTS, outcome="succeeded") == 4
        assert CANARY.split(":")[0] not in telemetry.path.read_text()
