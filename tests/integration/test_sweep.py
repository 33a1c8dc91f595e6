"""The sweep: input blobs whose event never came are found by the timer and processed once."""

from __future__ import annotations

from shared.deps import default_deps
from shared.intake.sweep import sweep_inputs
from shared.jobs.model import JobStatus
from shared.storage.names import SWEEP_STATE
from tests.conftest import jsonl, read_jsonl, run_until
from tests.integration.test_flow import chat, jobs, output, upload


def test_a_blob_without_an_event_is_found_by_the_timer_and_processed_once(app_env, host):
    app_env()
    deps = default_deps()
    upload(deps, "lost/event.jsonl", jsonl([chat("a", "x"), chat("b", "y")]))
    upload(deps, "lost/_job.json", b"{}")  # settings: never an input
    run_until(host, lambda: bool(jobs(deps)) and all(j.cleaned for j in jobs(deps)))
    [job] = jobs(deps)
    assert job.status == JobStatus.COMPLETED and job.name == "lost/event.jsonl"
    results = read_jsonl(output(deps, "lost/event/results.jsonl"))
    assert [r["custom_id"] for r in results] == ["a", "b"]
    for _ in range(3):
        host.fire_timer()
    host.deliver_blob("lost/event.jsonl")  # the event, very late
    assert len(jobs(deps)) == 1


def test_the_sweep_remembers_where_it_got_to_and_sees_new_versions(app_env):
    app_env()
    deps = default_deps()
    upload(deps, "a.jsonl", jsonl([chat("a", "x")]))
    assert sweep_inputs(deps) == 1
    assert deps.work.download_blob(SWEEP_STATE).readall()
    assert sweep_inputs(deps) == 0
    upload(deps, "a.jsonl", jsonl([chat("a", "changed")]))  # a new version is a new job
    upload(deps, ".hidden.jsonl", jsonl([chat("h", "x")]))
    assert sweep_inputs(deps) == 1
    assert len(jobs(deps)) == 2


def test_a_failing_sweep_does_not_stop_the_tick(app_env, monkeypatch):
    app_env()
    deps = default_deps()
    monkeypatch.setattr(deps.blobs, "get_container_client", lambda *_: 1 / 0)
    assert sweep_inputs(deps) == 0
