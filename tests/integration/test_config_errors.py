"""A wrong setting, with the emulator's `misconfigured` fault and Azurite: the service tells a
wrong key, role or endpoint from a refusal of the file or a vanished batch, and a job meeting
one waits with the setting named (alert line and metric), then finishes through the registered
functions once it is fixed (F26)."""

from __future__ import annotations

import logging
import time

import pytest

from shared.batches.azure_openai import OpenAIBatchService, make_client
from shared.deps import default_deps
from shared.jobs.model import ALERT, JobStatus
from shared.misconfig import Misconfigured
from shared.telemetry import metrics
from tests.conftest import jsonl, run_until
from tests.integration.test_flow import chat, jobs, summary_of, upload
from tests.unit.telemetry_kit import recorded


@pytest.fixture
def faults(emulator):
    yield emulator.set_faults
    emulator.clear_faults()


def service(deps) -> OpenAIBatchService:
    settings = deps.settings
    return OpenAIBatchService(make_client(settings), settings.openai_api_version, settings)


@pytest.mark.parametrize(
    ("fault", "setting"),
    [
        ({"problem": "wrong_key"}, "AZURE_OPENAI_API_KEY"),
        ({"problem": "missing_permission"}, "role"),
        ({"problem": "missing_permission", "status": 401}, "AZURE_OPENAI_API_KEY"),
        ({"problem": "wrong_endpoint"}, "AZURE_OPENAI_ENDPOINT"),
    ],
)
def test_every_call_names_the_setting_instead_of_refusing_the_file(
    app_env, faults, tmp_path, fault, setting
):
    app_env()
    api = service(default_deps())
    path = tmp_path / "one.jsonl"
    path.write_bytes(jsonl([chat("a", "x")]))
    uploaded = api.upload("cfg-probe.jsonl", path)
    while (api.get_file(uploaded.id) or uploaded).status != "processed":
        time.sleep(0.05)
    batch = api.create_batch(uploaded.id, "/v1/chat/completions", {"cfg": "probe"})
    faults([{"kind": "misconfigured", **fault}])
    calls = {
        "upload": lambda: api.upload("cfg-again.jsonl", path),
        "create": lambda: api.create_batch(uploaded.id, "/v1/chat/completions", {"cfg": "2"}),
        "get_batch": lambda: api.get_batch(batch.id),
        "get_file": lambda: api.get_file(uploaded.id),
        "find_batch": lambda: api.find_batch({"cfg": "probe"}),
        "cancel": lambda: api.cancel_batch(batch.id),
        "download": lambda: api.download(uploaded.id, tmp_path / "out"),
        "delete": lambda: api.delete_file(uploaded.id),
    }
    for name, call in calls.items():
        with pytest.raises(Misconfigured) as caught:
            call()
        assert setting in caught.value.setting + caught.value.fix, name


def test_a_batch_or_file_that_is_gone_is_still_gone_when_the_endpoint_works(app_env, faults):
    app_env()
    api = service(default_deps())
    assert api.get_batch("batch_does-not-exist") is None
    assert api.get_file("file-does-not-exist") is None
    api.delete_file("file-does-not-exist")  # already gone is fine
    faults([{"kind": "http", "method": "GET", "path": "/batches/batch_", "status": 404}])
    assert api.get_batch("batch_anything") is None  # the list call answers: it vanished


def test_a_wrong_key_leaves_the_job_waiting_until_it_is_fixed(
    app_env, host, faults, tmp_path, caplog
):
    app_env()
    deps = default_deps()
    faults([{"kind": "misconfigured", "problem": "wrong_key"}])
    with recorded(tmp_path) as telemetry, caplog.at_level(logging.ERROR):
        upload(deps, "cfg/key.jsonl", jsonl([chat("a", "x"), chat("b", "y")]))
        assert host.deliver_new_blobs() == 1
        [job] = jobs(deps)
        assert job.status == JobStatus.WAITING and job.paused.resume == JobStatus.SUBMITTING
        assert "AZURE_OPENAI_API_KEY" in job.last_error
        for _ in range(3):  # ticks while it stays wrong: still waiting, never failed
            time.sleep(1.05)
            host.fire_timer()
        [job] = jobs(deps)
        assert job.status == JobStatus.WAITING and job.step_failures == 0
        assert job.paused.tries >= 2
        assert telemetry.total(metrics.CONFIG_ERRORS, setting="AZURE_OPENAI_API_KEY") >= 2
        assert any(ALERT in r.getMessage() and job.job_id in r.getMessage() for r in caplog.records)
        faults([])  # the key is fixed
        run_until(host, lambda: summary_of(deps, "cfg/key") is not None and jobs(deps)[0].cleaned)
    summary = summary_of(deps, "cfg/key")
    assert summary["status"] == "completed" and summary["counts"]["succeeded"] == 2
    [job] = jobs(deps)
    assert job.last_error == "" and job.paused is None


def test_a_wrong_endpoint_while_the_batch_runs_waits_instead_of_failing_it(app_env, host, faults):
    app_env()
    deps = default_deps()
    upload(deps, "cfg/endpoint.jsonl", jsonl([chat("a", "x")]))
    assert host.deliver_new_blobs() == 1
    assert jobs(deps)[0].status == JobStatus.IN_PROGRESS
    faults([{"kind": "misconfigured", "problem": "wrong_endpoint"}])
    host.fire_timer()
    [job] = jobs(deps)
    assert job.status == JobStatus.WAITING and job.paused.resume == JobStatus.IN_PROGRESS
    assert "AZURE_OPENAI_ENDPOINT" in job.last_error
    assert job.parts[0].remote_status != "failed"  # not "batch_not_found"
    faults([])
    run_until(host, lambda: summary_of(deps, "cfg/endpoint") is not None)
    assert summary_of(deps, "cfg/endpoint")["status"] == "completed"


def test_a_missing_output_container_waits_with_its_setting_named(app_env, host):
    app_env()
    deps = default_deps()
    deps.output.delete_container()
    upload(deps, "cfg/out.jsonl", jsonl([chat("a", "x")]))
    assert host.deliver_new_blobs() == 1
    run_until(host, lambda: jobs(deps)[0].is_paused)
    [job] = jobs(deps)
    assert job.paused.resume == JobStatus.COMPLETING
    assert "BATCH_OUTPUT_CONTAINER" in job.last_error and job.step_failures == 0
    deps.output.create_container()
    run_until(host, lambda: summary_of(deps, "cfg/out") is not None and jobs(deps)[0].cleaned)
    assert summary_of(deps, "cfg/out")["status"] == "completed"
