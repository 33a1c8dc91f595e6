"""How the CLI shows jobs: rich tables for people, the HTTP API's own JSON with --json. Every
value a person or the service chose (input names, errors, deployments, answers) is shown as
plain `Text`, never read as rich markup: `[` and `]` are ordinary blob-name characters."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.table import Table
from rich.text import Text

from shared.jobs.listing import JobSummary
from shared.jobs.model import Job, JobStatus
from shared.storage.outputs import FolderState

STYLE = {
    JobStatus.COMPLETED: "green",
    JobStatus.FAILED: "red",
    JobStatus.REJECTED: "red",
    JobStatus.EXPIRED: "yellow",
    JobStatus.CANCELLED: "yellow",
    JobStatus.SUPERSEDED: "dim",
    JobStatus.SKIPPED: "dim",
}
ID_SHOWN = 12  # enough to tell jobs apart; every command takes it back (find.py)


def status_text(status: JobStatus) -> Text:
    return Text(status.value, style=STYLE.get(status, "cyan"))


def status_markup(status: JobStatus) -> str:
    """The same, as markup, for rich's progress columns (a status is never a person's text)."""
    return f"[{STYLE.get(status, 'cyan')}]{status.value}[/]"


def plain(value: object) -> Text:
    """A value shown literally: no markup, no emoji codes."""
    return Text(str(value))


def when(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def jobs_table(jobs: list[JobSummary]) -> Table:
    table = Table("created", "job", "status", "input", "requests", "ok", "failed", "error")
    for job in jobs:
        done = job.succeeded + job.failed if job.status in STYLE else job.requests_done
        table.add_row(
            when(job.created_at),
            job.job_id[:ID_SHOWN],
            status_text(job.status),
            plain(job.name),
            f"{done}/{job.total}",
            str(job.succeeded),
            str(job.failed),
            plain(clip(job.last_error, 60)),
        )
    return table


def show_job(console: Console, job: Job, container: str, state: FolderState) -> None:
    line = Text.assemble
    console.print(line((job.name, "bold"), f" ({job.container}), job {job.job_id}"))
    console.print(
        line("  status     ", status_text(job.status), f", updated {when(job.updated_at)}")
    )
    console.print(f"  created    {when(job.created_at)}")
    console.print(f"  requests   {job.total}: {job.succeeded} succeeded, {job.failed} failed")
    if job.last_error:
        console.print(line("  last error ", (job.last_error, "red")))
    if job.stop is not None:
        console.print(line(f"  stop       {job.stop.reason.value}: ", job.stop.detail))
    if job.retry is not None:
        console.print(f"  retry      asked at {when(job.retry.requested_at)}, waiting")
    owner = "" if state.owner in (None, job.job_id) else f" (now job {state.owner}'s)"
    console.print(line("  outputs    ", f"{container}/{state.folder}/{owner}"))
    for name, size in state.files.items():
        console.print(line(f"             {name} ({size:,} bytes)"))
    if job.parts:
        console.print(batches_table(job))


def batches_table(job: Job) -> Table:
    table = Table("part", "round", "batch", "deployment", "status", "requests", "done", "failed")
    for p in job.parts:
        table.add_row(
            str(p.index),
            str(p.round),
            plain(p.batch_id or "-"),
            plain(p.deployment),
            plain(p.remote_status or "not sent yet"),
            str(p.count),
            str(p.completed),
            str(p.failed),
        )
    return table


def clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"
