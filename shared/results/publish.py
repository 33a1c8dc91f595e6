"""Writing a job's outputs (one commit per file, summary.json last) and saving its final state."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from azure.core.exceptions import HttpResponseError

from shared.crash import crashpoint
from shared.jobs.explain import final_reason
from shared.jobs.model import Job, JobStatus, outcome
from shared.results import accounting, billed
from shared.results.merge import MergeFiles
from shared.results.outcomes import Outcomes
from shared.results.settings_check import newer_settings
from shared.results.summary import iso, not_sent, summary, summary_bytes
from shared.storage.names import (
    ERRORS,
    OUTPUT_FILES,
    RESULTS,
    RESULTS_CSV,
    SUMMARY,
    output_prefix,
)
from shared.storage.ownership import owned_folder

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)

NEWER_OWNS = "A newer upload of the same name owns the output folder; this job wrote nothing."


@dataclass(frozen=True)
class Rejection:
    """Why a file was refused: its problems as errors.jsonl lines, and the counts."""

    problems: list[dict[str, Any]]
    problem_count: int
    total: int
    warnings: list[str]
    job_settings: dict[str, str] | None = None  # the _job.json read for it


@dataclass(frozen=True)
class Skip:
    """Identical content that recently completed: nothing sent, a pointer to its results."""

    total: int
    warnings: list[str]
    duplicate_of: dict[str, Any]
    job_settings: dict[str, str] | None = None


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("wb") as out:
        for row in rows:
            out.write(orjson.dumps(row))
            out.write(b"\n")


def version_of(job: Job) -> str:
    """Orders versions of one input name: when the blob was written, then when its job was
    recorded (a job is only ever recorded for the version current at that moment)."""
    written = job.blob_modified.isoformat() if job.blob_modified else ""
    return f"{written}|{job.created_at.isoformat()}"


def is_current(deps: Deps, job: Job) -> bool:
    """Whether the job's input is still the blob's current version: the newest upload, known
    from the blob itself rather than from clocks (I9)."""
    blob = deps.blobs.get_blob_client(job.container, job.name)
    try:
        etag = blob.get_blob_properties().etag
    except HttpResponseError:  # deleted, or unreadable: the versions' order decides alone
        return False
    return str(etag).strip('"') == job.etag.strip('"')


def publish(
    deps: Deps,
    job: Job,
    files: dict[str, Path],
    summary_doc: dict[str, Any],
    keep: frozenset[str] = frozenset(),
) -> bool:
    """Write the outputs into the job's folder: summary.json goes first (so readers see the
    folder is being rewritten) and comes back last (its presence means the rest is complete);
    output files this job does not produce are removed, so the folder holds one job's files.
    False, writing nothing, when a newer version of the input owns the folder."""
    prefix = output_prefix(job.name)
    current = is_current(deps, job)
    with owned_folder(deps.output, prefix, version_of(job), job.job_id, current) as hold:
        if hold is None:
            log.info(
                "job %s: a newer version of the input owns %s; nothing written", job.job_id, prefix
            )
            return False
        hold.delete(SUMMARY)
        for name, path in files.items():
            hold.write(name, path)
        for name in set(OUTPUT_FILES) - set(files) - {SUMMARY} - keep:
            hold.delete(name)
        with tempfile.TemporaryDirectory(prefix="batchdrop-") as tmp:
            summary_path = Path(tmp) / SUMMARY
            summary_path.write_bytes(summary_bytes(summary_doc))
            hold.write(SUMMARY, summary_path)  # the commit point: never over a newer summary
    return True


def publish_rejection(deps: Deps, job: Job, rejection: Rejection) -> bool:
    """A rejected file's report: errors.jsonl (one line per problem) and summary.json."""
    listed = len(rejection.problems)
    more = rejection.problem_count - listed
    errors = [
        {
            "code": "invalid_input",
            "message": f"{rejection.problem_count} problem(s) in the file; nothing was submitted. "
            "errors.jsonl lists each with its line; fix them and upload the file again."
            + (f" Only the first {listed} are listed." if more else ""),
        }
    ]
    doc = summary(
        job,
        "rejected",
        not_sent(rejection.total, rejection.problem_count),
        warnings=rejection.warnings,
        errors=errors,
        job_settings=rejection.job_settings,
    )
    with tempfile.TemporaryDirectory(prefix="batchdrop-") as tmp:
        path = Path(tmp) / ERRORS
        write_jsonl(path, rejection.problems)
        return publish(deps, job, {ERRORS: path}, doc)


def publish_failure(deps: Deps, job: Job, reason: str) -> bool:
    """summary.json alone, for a job that could not go on (no answers were merged)."""
    error = {"code": "gave_up", "message": reason}
    counts = {"total": job.total, "succeeded": 0, "failed": job.total}
    return publish(deps, job, {}, summary(job, "failed", counts, errors=[error]))


def publish_skip(deps: Deps, job: Job, skip: Skip) -> bool:
    """summary.json only. In the earlier job's own folder (the same name uploaded again) its
    results stay, since they are this content's results; anywhere else the folder is cleared
    of older files, and the summary points at the results."""
    doc = summary(
        job,
        "skipped",
        not_sent(skip.total),
        warnings=skip.warnings,
        duplicate_of=skip.duplicate_of,
        job_settings=skip.job_settings,
    )
    same_folder = (
        str(skip.duplicate_of.get("output", "")).rstrip("/").endswith("/" + output_prefix(job.name))
    )
    return publish(deps, job, {}, doc, keep=frozenset(OUTPUT_FILES) if same_folder else frozenset())


def publish_outcome(deps: Deps, job: Job, run: MergeFiles, outcomes: Outcomes) -> Job:
    """Write the outputs of a finished merge and move the job to its final state."""
    tally = run.tally
    status = outcome(job, run.expired_left, all_answered=tally.failed == 0)
    counts = {"total": tally.total, "succeeded": tally.succeeded, "failed": tally.failed}
    part_errors = run.part_errors(job.parts)
    # Usage and cost count every answer billed, in this run and the runs before a retry.
    billing = billed.account(tally, billed.read_carry(deps, job))
    spent = billing.tally(billing.billed)
    cost = accounting.cost_summary(spent, deps.settings.prices)
    doc = summary(
        job,
        status.value,
        counts,
        usage=spent.usage,
        cost=cost,
        completed_at=_ended(job),
        errors=_errors(job, outcomes, part_errors),
        part_errors=part_errors,
        finish_reasons=tally.finish_reasons,
        job_settings=run.meta.job_settings,
        warnings=[*tally.warnings, *newer_settings(deps, job, run.meta)],
    )
    names = (RESULTS, ERRORS, RESULTS_CSV)
    files = {name: run.folder / name for name in names if (run.folder / name).exists()}
    if not publish(deps, job, files, doc):
        return deps.store.save(job.moved_to(JobStatus.SUPERSEDED, last_error=NEWER_OWNS))
    crashpoint("after_outputs_written")
    log.info(
        "job %s %s: %d succeeded, %d failed",
        job.job_id,
        status.value,
        tally.succeeded,
        tally.failed,
    )
    final = job.moved_to(
        status,
        succeeded=tally.succeeded,
        failed=tally.failed,
        estimated_cost=cost["cost"],
        saving=cost["saving"],
    )
    final = replace(final, last_error=final_reason(final, status))
    saved = deps.store.save(final)
    # Once the final state is written (a rerun finds it done): this run's share alone.
    accounting.report(billing, deps.settings.prices)
    return saved


def _ended(job: Job) -> str | None:
    ends = [p.ended_at for p in job.parts if p.ended_at]
    return iso(max(ends)) if ends else None


def _errors(
    job: Job, outcomes: Outcomes, part_errors: dict[int, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Batch-level reasons (lines mapped to the input's) and anything odd in the service's
    files: reported, never merged."""
    errors = [dict(e, batch=p.batch_id) for p in job.parts for e in part_errors[p.index]]
    errors += [{"code": "output_anomaly", "message": m} for m in outcomes.anomalies]
    errors += [
        {
            "code": "unknown_custom_id",
            "message": f"The service returned custom_id {cid!r}, which is not in the input.",
        }
        for cid in sorted(outcomes.lines)
    ]
    return errors
