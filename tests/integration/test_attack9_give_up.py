"""Issue 9 (attack): a job that gives up (a step failed BATCH_MAX_STEP_FAILURES times in a
row) while batches of its own still run at the service, or while the create whose answer
was lost cannot be looked up, leaves nothing running, untracked or stored at the service
(I6, I10): its clean-up finds, cancels and follows them to their end first."""

from __future__ import annotations

import time

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import files_left, jsonl
from tests.integration.attack9_kit import emulator_with, live_or_untracked, pump, service_files
from tests.integration.test_flow import chat, jobs, upload


def closed() -> bool:
    found = jobs(default_deps())
    return bool(found) and all(j.is_terminal and j.cleaned for j in found)


def test_giving_up_while_another_part_runs_leaves_no_file_at_the_service(app_env, host):
    with emulator_with(in_progress=4.0, cancelling=1.0) as emu:
        app_env(AZURE_OPENAI_ENDPOINT=emu.url, BATCH_MAX_REQUESTS="1", BATCH_MAX_STEP_FAILURES="3")
        deps = default_deps()
        # Part 1's create answers 500 every time (the look-up after it finds nothing), so the
        # job gives up while part 0's batch runs; that batch ends cancelled some time later,
        # and only then does the service write its error file.
        part_1 = {"batchdrop_part": "^1$"}
        rule = {"kind": "http", "method": "POST", "path": "/batches$", "status": 500}
        emu.set_faults([{**rule, "times": None, "metadata": part_1}])
        upload(deps, "g.jsonl", jsonl([chat("a", "x"), chat("b", "y")]))
        pump(host, closed)
        [job] = jobs(deps)
        assert job.status == JobStatus.FAILED
        assert live_or_untracked(emu, job) == []
        assert service_files(emu, files_left(emu, job.job_id)) == []


def test_giving_up_while_the_lookup_fails_still_finds_and_cancels_the_batch(app_env, host):
    """The create takes effect but its answer is lost, and every list call fails until the
    job has given up: the batch can only be found once listing works again."""
    with emulator_with(in_progress=30.0) as emu:
        app_env(
            AZURE_OPENAI_ENDPOINT=emu.url,
            AZURE_OPENAI_TIMEOUT_SECONDS="1",
            BATCH_MAX_STEP_FAILURES="3",
        )
        deps = default_deps()
        list_fails = {"kind": "http", "method": "GET", "path": "/batches$", "status": 500}
        emu.set_faults(
            [{"kind": "commit_then_timeout", "delay": 2.5}, {**list_fails, "times": None}]
        )
        upload(deps, "blind.jsonl", jsonl([chat("a", "x")]))
        pump(host, lambda: bool(jobs(deps)) and jobs(deps)[0].is_terminal)
        assert jobs(deps)[0].status == JobStatus.FAILED
        emu.clear_faults()  # the list API is back
        pump(host, closed)
        [job] = jobs(deps)
        [made] = emu.batches(metadata={"batchdrop_job": job.job_id})
        assert made["id"] in job.batch_ids  # found and recorded
        assert live_or_untracked(emu, job) == []  # and cancelled to its end
        time.sleep(0.2)
        assert files_left(emu, job.job_id) == []
