"""Following jobs as they run: a live progress bar per job until each has finished, or a live
table of the jobs not finished yet."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from batchdrop_cli.connect import Connection
from batchdrop_cli.views import jobs_table, status_markup, status_text
from shared.http_api import OPEN
from shared.jobs.model import Job, JobStatus
from shared.storage.names import output_prefix

WAITING = "[dim]waiting for the app to pick it up[/]"
LISTED = 20


def progress_of(job: Job) -> tuple[int, int]:
    """(requests done, requests in this run): a finished job is full."""
    if job.is_terminal and job.retry is None:
        return job.total, job.total
    parts = job.current_parts
    total = sum(p.count for p in parts) or job.total
    return min(sum(p.completed + p.failed for p in parts), total), total


def finished(job: Job | None) -> bool:
    return job is not None and job.is_terminal and job.retry is None


def follow(
    conn: Connection,
    jobs: Sequence[tuple[str, str]],
    console: Console,
    timeout: float,
    interval: float,
) -> int:
    """A bar per (job id, input name) until every job finished; 0 when all completed with
    every request answered, 1 otherwise (also on timeout)."""
    columns = (
        TextColumn("{task.description}", markup=False),  # an input name, shown as it is
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    seen: dict[str, Job | None] = {}
    deadline = time.monotonic() + timeout
    with Progress(*columns, console=console) as bars:
        tasks = {job_id: bars.add_task(name, total=None, status=WAITING) for job_id, name in jobs}
        while True:
            for job_id, task in tasks.items():
                job = seen[job_id] = conn.store.get(job_id)
                if job is not None:
                    done, total = progress_of(job)
                    bars.update(task, completed=done, total=total or None, status=_status(job))
            if all(finished(j) for j in seen.values()) or time.monotonic() > deadline:
                break
            time.sleep(interval)
    return _verdict(console, jobs, seen, conn.output_container)


def _status(job: Job) -> str:
    text = status_markup(job.status)
    if job.is_terminal and job.failed:
        text += f" [red]{job.failed} failed[/]"
    if job.retry is not None:
        text += " (retry asked)"
    return text


def _verdict(
    console: Console, jobs: Sequence[tuple[str, str]], seen: dict[str, Job | None], output: str
) -> int:
    ok = True
    for job_id, name in jobs:
        job = seen.get(job_id)
        if not finished(job):
            console.print(
                Text(f"{name}: not finished in time (job {job_id}); `batchdrop watch` goes on")
            )
            ok = False
            continue
        assert job is not None
        ok = ok and job.status == JobStatus.COMPLETED and job.failed == 0
        where = f"{output}/{output_prefix(job.name)}/"
        counts = f", {job.succeeded} succeeded, {job.failed} failed; outputs in {where}"
        console.print(Text.assemble(f"{name}: ", status_text(job.status), counts))
        if job.last_error:
            console.print(Text(f"  {job.last_error}", style="red"))
    return 0 if ok else 1


def open_jobs(conn: Connection, console: Console, timeout: float | None, interval: float) -> int:
    """A live table of the newest jobs not finished yet, until Ctrl-C (or `timeout`)."""
    deadline = time.monotonic() + timeout if timeout else None
    with Live(console=console, auto_refresh=False) as live:
        while True:
            page = conn.store.list_jobs(LISTED, OPEN)
            live.update(jobs_table(page.jobs), refresh=True)
            if deadline is not None and time.monotonic() > deadline:
                return 0
            time.sleep(interval)
