"""The invariants a chaos run must leave standing (docs/reliability.md I1-I10), each a function
from what the run left behind to a list of violations (empty when it holds)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson

from shared.jobs.model import ALLOWED, TERMINAL, Job, JobStatus, job_id_for
from shared.storage.names import ERRORS, RESULTS, RESULTS_CSV, SUMMARY, output_prefix
from shared.storage.ownership import MARKER
from tests.integration.chaos.workload import CANARY, Version


@dataclass
class World:
    """Everything the checks read, gathered once the run has settled."""

    container: str
    jobs: dict[str, Job]
    current: dict[str, str]  # input name -> ETag of the blob there now
    outputs: dict[str, dict[str, bytes]]  # output folder -> file name -> bytes
    batches: list[dict[str, Any]]  # every batch the service ever had
    files: list[dict[str, Any]]  # files still at the service
    versions: dict[str, Version]  # job id -> the upload it is for
    texts: dict[str, str]  # log, telemetry and table dumps, by where they came from
    transitions: list[tuple[str, str, str]] = field(default_factory=list)  # job, from, to
    reported: list[tuple[str, str, str]] = field(default_factory=list)  # the same, as written
    bound: float = 0.0  # seconds within which every job must end


def newest_job_per_input(world: World) -> list[str]:
    """I3, I9: the current version of each input has its job, ended, and its summary is the
    one in the folder; superseded versions write none."""
    found = []
    for name, etag in sorted(world.current.items()):
        job = world.jobs.get(job_id_for(world.container, name, etag))
        if job is None:
            found.append(f"{name}: its current version has no job")
            continue
        if not (job.is_terminal and job.cleaned):
            found.append(f"{name}: job {job.job_id} still {job.status.value}")
        summary = _summary(world.outputs.get(output_prefix(name), {}))
        if summary is None:
            found.append(f"{name}: no summary.json for its current version ({job.status.value})")
        elif summary.get("job_id") != job.job_id or summary.get("status") != job.status.value:
            found.append(
                f"{name}: summary.json is job {summary.get('job_id')} {summary.get('status')}, "
                f"the current version is job {job.job_id} {job.status.value}"
            )
    return found


def folders_hold_one_job(world: World) -> list[str]:
    """I9, I2: each output folder holds the files of the one job its summary names, for that
    job's own input, and nothing stale beside them."""
    found = []
    for folder, files in sorted(world.outputs.items()):
        names = set(files) - {MARKER}
        if not names:
            continue
        summary = _summary(files)
        if summary is None:
            found.append(f"{folder}/: {sorted(names)} without a summary.json")
            continue
        found += [f"{folder}/: {problem}" for problem in _folder(world, folder, files, summary)]
    return found


def _folder(world: World, folder: str, files: dict[str, bytes], summary: dict) -> list[str]:
    version = world.versions.get(str(summary.get("job_id")))
    if version is None:
        return [f"summary.json names job {summary.get('job_id')}, not one of the uploads"]
    if output_prefix(version.name) != folder:
        return [
            f"holds the outputs of {version.name}, whose folder is {output_prefix(version.name)}"
        ]
    status = str(summary.get("status"))
    if status == "skipped":
        return _skipped(world, folder, files, summary)
    expected = _expected_files(version, status, summary)
    problems = []
    if set(files) - {MARKER} != expected:
        problems.append(
            f"{status} job: files {sorted(set(files) - {MARKER})}, want {sorted(expected)}"
        )
    if RESULTS in expected and RESULTS in files:
        problems += conserved(version, files, summary)
    return problems


def _expected_files(version: Version, status: str, summary: dict) -> set[str]:
    if status == "rejected":
        return {ERRORS, SUMMARY}
    codes = {e.get("code") for e in summary.get("errors") or []}
    if status == "failed" and "gave_up" in codes:
        return {SUMMARY}
    return {RESULTS, ERRORS, SUMMARY} | ({RESULTS_CSV} if version.writes_csv else set())


def _skipped(world: World, folder: str, files: dict[str, bytes], summary: dict) -> list[str]:
    """A skipped upload's folder holds its summary alone, or (the same name again) the earlier
    job's results, which must then be that job's."""
    pointer = summary.get("duplicate_of") or {}
    earlier = world.versions.get(str(pointer.get("job_id")))
    if earlier is None:
        return [f"skipped, pointing at unknown job {pointer.get('job_id')}"]
    if set(files) - {MARKER} == {SUMMARY}:
        return []
    if output_prefix(earlier.name) != folder:
        return [f"skipped, but holds {sorted(files)} of another folder's job"]
    return conserved(earlier, files, None)


def conserved(version: Version, files: dict[str, bytes], summary: dict | None) -> list[str]:
    """I2: every custom_id of the input once, in input order, each from this version."""
    rows = [orjson.loads(line) for line in files[RESULTS].splitlines() if line.strip()]
    problems = []
    if [r["custom_id"] for r in rows] != list(version.ids):
        problems.append(f"results.jsonl ids differ from {version.name}'s ({len(rows)} rows)")
    if any(version.tag not in orjson.dumps(r.get("request")).decode() for r in rows):
        problems.append(f"results.jsonl holds requests of another version than {version.tag}")
    failed = [r["custom_id"] for r in rows if r["status"] != "succeeded"]
    errors = [orjson.loads(x)["custom_id"] for x in files.get(ERRORS, b"").splitlines() if x]
    if errors != failed:
        problems.append("errors.jsonl is not the failed rows of results.jsonl")
    counts = (summary or {}).get("counts")
    if counts is not None and (counts["total"], counts["failed"]) != (len(rows), len(failed)):
        problems.append(f"summary counts {counts} do not match results.jsonl")
    return problems


def service_is_clean(world: World) -> list[str]:
    """I6, I10, I1: no file left at the service, every batch ended and recorded on its job,
    never two batches for one part (a batch refused for quota never ran: not counted)."""
    found = [f"file {f['id']} ({f.get('filename')}) left at the service" for f in world.files]
    per_part: dict[tuple[str, str], list[str]] = defaultdict(list)
    for batch in world.batches:
        metadata = batch.get("metadata") or {}
        job = world.jobs.get(metadata.get("batchdrop_job", ""))
        if job is None:
            found.append(f"batch {batch['id']} belongs to no job")
            continue
        if batch["live"]:
            found.append(f"batch {batch['id']} of job {job.job_id} still {batch['status']}")
        if _refused_for_quota(batch):
            continue
        per_part[(job.job_id, metadata.get("batchdrop_part", ""))].append(batch["id"])
        if batch["id"] not in job.batch_ids:
            found.append(
                f"batch {batch['id']} ({batch['status']}) not recorded on job {job.job_id}"
            )
    found += [
        f"job {j} part {p}: batches {ids}" for (j, p), ids in per_part.items() if len(ids) > 1
    ]
    return found


def _refused_for_quota(batch: dict[str, Any]) -> bool:
    errors = (batch.get("errors") or {}).get("data") or []
    return batch["status"] == "failed" and any(
        e.get("code") == "token_limit_exceeded" for e in errors
    )


def nothing_leaked(world: World) -> list[str]:
    """I8: no prompt text (the canary) in any log line, telemetry row or table value."""
    found = []
    for where, text in sorted(world.texts.items()):
        at = text.find(CANARY)
        if at >= 0:
            line = text[text.rfind("\n", 0, at) + 1 : at].strip()[-120:]
            found.append(f"prompt text in {where}: ...{line}")
    return found


# Exceptions that mean a bug in the app, never a fault it was shown (those are openai,
# azure-core and timeout errors): a traceback ending in one of these is a violation (I7).
CODE_ERRORS = re.compile(
    r"^(AttributeError|TypeError|KeyError|IndexError|NameError|UnboundLocalError|"
    r"ZeroDivisionError|AssertionError|RecursionError|UnicodeError|"
    r"shared\.jobs\.model\.TransitionError)\b.*$",
    re.MULTILINE,
)


def no_code_errors(world: World) -> list[str]:
    """I7: whatever the service does, no step fails on an error of the app's own code."""
    return [
        f"{where}: {match.group(0)[:160]}"
        for where, text in sorted(world.texts.items())
        for match in CODE_ERRORS.finditer(text)
    ]


def forward_only(world: World) -> list[str]:
    """I5: every state change seen (sampled from the table) follows ALLOWED; an ended job
    never moves again."""
    reachable = _closure()
    return [
        f"job {job}: {before} -> {after}"
        for job, before, after in world.transitions
        if JobStatus(after) not in reachable[JobStatus(before)]
    ]


def every_change_allowed(world: World) -> list[str]:
    """I5, exactly: every state change the store wrote (its JobStateChanged events, with the
    state it replaced) is one ALLOWED lists."""
    return [
        f"job {job}: {before} -> {after} written"
        for job, before, after in world.reported
        if before and JobStatus(after) not in ALLOWED.get(JobStatus(before), frozenset())
    ]


def _closure() -> dict[JobStatus, set[JobStatus]]:
    """Sampling can miss steps: whatever a chain of allowed moves reaches."""
    reach = {s: set(ALLOWED.get(s, ())) for s in JobStatus}
    changed = True
    while changed:
        changed = False
        for targets in reach.values():
            more = set().union(*(reach[t] for t in targets)) - targets if targets else set()
            if more:
                targets |= more
                changed = True
    return reach


def ended_in_time(world: World) -> list[str]:
    """I3: every job ended, and within the bound."""
    found = []
    for job in world.jobs.values():
        if job.status not in TERMINAL or not job.cleaned:
            found.append(f"job {job.job_id} ({job.name}) still {job.status.value}")
        elif (took := (job.updated_at - job.created_at).total_seconds()) > world.bound:
            found.append(f"job {job.job_id} took {took:.0f} s (bound {world.bound:.0f} s)")
    return found


CHECKS = (
    newest_job_per_input,
    folders_hold_one_job,
    service_is_clean,
    nothing_leaked,
    no_code_errors,
    forward_only,
    every_change_allowed,
    ended_in_time,
)


def violations(world: World) -> dict[str, list[str]]:
    return {check.__name__: check(world) for check in CHECKS}


def _summary(files: dict[str, bytes]) -> dict | None:
    data = files.get(SUMMARY)
    return orjson.loads(data) if data else None
