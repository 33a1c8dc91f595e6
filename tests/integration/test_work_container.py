"""A work container that does not hold a running job's work files: following the app's own fix
for a mistyped BATCH_WORK_CONTAINER (create the container it names) leaves the job waiting for
the setting to name its container again, never failed and never writing there; a work
container emptied under a running job fails the job at once with that reason."""

from __future__ import annotations

import time

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from shared.storage import blobs
from shared.storage.names import work_prefix
from tests.conftest import files_left, jsonl, run_until
from tests.integration.test_flow import chat, jobs, summary_of, upload


def tick(host, times: int) -> None:
    for _ in range(times):
        host.fire_timer()
        host.drain_queue()
        time.sleep(0.3)


def set_work(monkeypatch, name: str) -> None:
    monkeypatch.setenv("BATCH_WORK_CONTAINER", name)
    default_deps.cache_clear()  # a changed app setting restarts the app


def test_creating_a_mistyped_work_container_leaves_the_job_waiting_until_set_back(
    app_env, host, emulator, monkeypatch
):
    env = app_env()
    deps = default_deps()
    upload(deps, "wc/typo.jsonl", jsonl([chat("w1", "a"), chat("w2", "b")]))
    assert host.deliver_new_blobs() == 1
    [job] = jobs(deps)
    typo = env["BATCH_WORK_CONTAINER"] + "x"
    set_work(monkeypatch, typo)
    run_until(host, lambda: jobs(default_deps())[0].is_paused, 20)
    assert "create" in jobs(default_deps())[0].last_error
    default_deps().blobs.create_container(typo)  # the fix the message offers
    tick(host, 6)
    [waiting] = jobs(default_deps())
    written = [b.name for b in default_deps().work.list_blobs(work_prefix(job.job_id))]
    set_work(monkeypatch, env["BATCH_WORK_CONTAINER"])  # set back
    run_until(host, lambda: jobs(default_deps())[0].cleaned, 30)
    summary = summary_of(default_deps(), "wc/typo")

    assert waiting.is_paused and waiting.step_failures == 0, (waiting.status, waiting.last_error)
    assert f"back to {env['BATCH_WORK_CONTAINER']!r}" in waiting.last_error, waiting.last_error
    assert written == []  # nothing collected into the wrong container
    assert summary["status"] == "completed" and summary["counts"]["succeeded"] == 2
    assert files_left(emulator, job.job_id) == []


def test_work_files_emptied_under_a_running_job_fail_it_at_once_with_the_reason(
    app_env, host, emulator
):
    app_env()
    deps = default_deps()
    upload(deps, "wc/gone.jsonl", jsonl([chat("g1", "a")]))
    assert host.deliver_new_blobs() == 1
    [job] = jobs(deps)
    names = blobs.names_under(deps.work, work_prefix(job.job_id))
    assert names
    for name in names:
        blobs.delete_quietly(deps.work, name)
    run_until(host, lambda: jobs(deps)[0].is_terminal and jobs(deps)[0].cleaned, 20)
    [done] = jobs(deps)
    summary = summary_of(deps, "wc/gone")

    assert done.status == JobStatus.FAILED
    assert "work files are gone from the work container" in done.last_error, done.last_error
    assert "Unexpected" not in done.last_error and "Gave up after" not in done.last_error
    assert summary["status"] == "failed"
    assert files_left(emulator, job.job_id) == []
