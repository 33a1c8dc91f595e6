"""The chaos run's invariant checks (tests/integration/chaos/checks.py) on made-up outcomes:
each one passes a clean world and names the violation it exists to catch."""

from __future__ import annotations

from dataclasses import replace

import orjson

from shared.jobs.model import Job, JobStatus, Part
from tests.integration.chaos import checks
from tests.integration.chaos.workload import CANARY, Version

INPUT = "in"
V1 = Version("d/x.jsonl", "native", b"...", ("a", "b"), "tag1")
V2 = Version("d/x.jsonl", "native", b"...", ("c",), "tag2")


def job_of(version: Version, etag: str, status: JobStatus = JobStatus.COMPLETED, **kw) -> Job:
    job = Job.new(INPUT, version.name, etag)
    return replace(job, status=status, cleaned=True, **kw)


def results(version: Version, failed: tuple[str, ...] = ()) -> dict[str, bytes]:
    rows = [
        {
            "custom_id": c,
            "status": "failed" if c in failed else "succeeded",
            "request": {"messages": [{"content": f"{version.tag} q"}]},
        }
        for c in version.ids
    ]
    errors = [r for r in rows if r["status"] == "failed"]
    return {
        "results.jsonl": b"".join(orjson.dumps(r) + b"\n" for r in rows),
        "errors.jsonl": b"".join(orjson.dumps(r) + b"\n" for r in errors),
    }


def summary(job: Job, total: int, failed: int = 0, status: str = "completed") -> bytes:
    counts = {"total": total, "succeeded": total - failed, "failed": failed}
    return orjson.dumps({"job_id": job.job_id, "status": status, "counts": counts})


def clean_world() -> checks.World:
    old, new = job_of(V1, "e1", JobStatus.SUPERSEDED), job_of(V2, "e2")
    folder = {**results(V2), "summary.json": summary(new, 1)}
    batch = {"id": "b1", "status": "completed", "live": False, "errors": None}
    batch["metadata"] = {"batchdrop_job": new.job_id, "batchdrop_part": "0"}
    new = replace(new, parts=(Part(0, "dep", "/chat/completions", 1, batch_id="b1"),))
    return checks.World(
        container=INPUT,
        jobs={old.job_id: old, new.job_id: new},
        current={"d/x.jsonl": "e2"},
        outputs={"d/x": folder},
        batches=[batch],
        files=[],
        versions={old.job_id: V1, new.job_id: V2},
        texts={"host.log": "job 1 completed"},
        transitions=[
            (new.job_id, "received", "submitting"),
            (new.job_id, "submitting", "completed"),
        ],
        bound=60,
    )


def found(world: checks.World) -> dict[str, list[str]]:
    return {name: v for name, v in checks.violations(world).items() if v}


def test_a_clean_world_passes_every_check():
    assert found(clean_world()) == {}


def test_an_older_version_in_the_folder_is_caught():
    world = clean_world()
    old = next(j for j in world.jobs.values() if j.status == JobStatus.SUPERSEDED)
    world.outputs["d/x"] = {**results(V1), "summary.json": summary(old, 2)}
    assert set(found(world)) == {"newest_job_per_input"}


def test_a_stale_file_beside_a_summary_is_caught():
    world = clean_world()
    world.outputs["d/x"]["results.csv"] = b"old"
    assert "folders_hold_one_job" in found(world)


def test_a_lost_or_repeated_custom_id_is_caught():
    world = clean_world()
    world.outputs["d/x"]["results.jsonl"] += world.outputs["d/x"]["results.jsonl"]
    assert "folders_hold_one_job" in found(world)


def test_an_untracked_a_doubled_or_a_live_batch_and_a_file_left_are_caught():
    world = clean_world()
    extra = {**world.batches[0], "id": "b2", "live": True, "status": "in_progress"}
    world.batches.append(extra)
    world.files.append({"id": "f1", "filename": "batchdrop-x.jsonl"})
    [problems] = found(world).values()
    assert len(problems) == 4  # the file, b2 live, b2 not recorded, two batches for part 0


def test_a_batch_refused_for_quota_is_not_a_second_batch():
    world = clean_world()
    refused = {"code": "token_limit_exceeded", "message": "full"}
    world.batches.append(
        {**world.batches[0], "id": "b0", "status": "failed", "errors": {"data": [refused]}}
    )
    assert found(world) == {}


def test_prompt_text_in_a_log_and_a_backward_move_are_caught():
    world = clean_world()
    world.texts["host.log"] += f"\nINFO answer to {CANARY} 7"
    job_id = world.transitions[0][0]
    world.transitions.append((job_id, "rejected", "in_progress"))
    assert set(found(world)) == {"nothing_leaked", "forward_only"}


def test_a_job_still_open_or_too_slow_is_caught():
    world = clean_world()
    job_id = next(iter(world.jobs))
    world.jobs[job_id] = replace(world.jobs[job_id], status=JobStatus.IN_PROGRESS, cleaned=False)
    world.bound = -1
    assert len(found(world)["ended_in_time"]) == 2


def test_a_step_failing_on_a_bug_of_the_app_is_caught_but_a_fault_is_not():
    world = clean_world()
    world.texts["host.log"] += "\nopenai.InternalServerError: Error code: 500"
    assert found(world) == {}
    world.texts["host.log"] += "\nAttributeError: 'str' object has no attribute 'get'"
    assert list(found(world)) == ["no_code_errors"]


def test_a_state_change_the_store_wrote_outside_allowed_is_caught():
    world = clean_world()
    job_id = world.transitions[0][0]
    world.reported = [(job_id, "", "received"), (job_id, "received", "submitting")]
    assert found(world) == {}
    world.reported.append((job_id, "received", "completed"))
    assert list(found(world)) == ["every_change_allowed"]
