"""The demo's view of its jobs: followed through GET /api/jobs (every page of it), each job's
outputs kept on disk as soon as it is final (so a timeout or Ctrl-C keeps what finished), and a
bounded preview of them. Names, paths, questions and answers are printed as rich `Text`, never
read as markup: `[` and `]` are ordinary in file and blob names (`data[v2].jsonl`)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from azure.storage.blob import BlobServiceClient
from rich.console import Console
from rich.table import Table
from rich.text import Text

from shared.jobs.model import TERMINAL as FINAL_STATES
from shared.jobs.model import JobStatus
from shared.results.results_csv import answer_text

TERMINAL = frozenset(status.value for status in FINAL_STATES)  # skipped and superseded too
PAGE = 200  # the listing's largest page (shared/jobs/listing.py)
LISTED = 20  # jobs named one by one; beyond this they are counted
console = Console(emoji=False)  # `:x:` in a name stays `:x:`


class TimedOut(Exception):
    """The jobs did not all finish in time; `jobs` is the last listing."""

    def __init__(self, timeout: float, jobs: list[dict[str, Any]]) -> None:
        super().__init__(f"jobs not finished after {timeout:.0f}s")
        self.jobs = jobs


def api(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/{path}", timeout=10) as resp:
        return json.loads(resp.read())


def list_jobs(port: int) -> list[dict[str, Any]]:
    """Every job, newest first: the listing's pages followed to the end."""
    jobs: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        after = f"&next={quote(token, safe='')}" if token else ""
        page = api(port, f"jobs?limit={PAGE}{after}")
        jobs += page["jobs"]
        token = page.get("next")
        if not token:
            return jobs


def describe(job: dict[str, Any]) -> Text:
    """One line per job from the API's listing (GET /api/jobs: the job rows, newest first)."""
    finished = job["status"] in TERMINAL
    done = (job["succeeded"] or 0) + (job["failed"] or 0) if finished else job["requests_done"]
    return Text.assemble(
        f"{job['input']['name']}: ",
        (job["status"], "bold"),
        f" (batches: {job['batch_count']}; {done}/{job['total']} requests done)",
    )


class Progress:
    """Prints what changed since the last look: a line per job for a few jobs, a tally of
    states for many (so a log of hundreds of jobs stays readable)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.shown: set[str] = set()

    def show(self, jobs: list[dict[str, Any]]) -> None:
        if self.count <= LISTED:
            lines = [describe(job) for job in jobs]
        else:
            tally = Counter(job["status"] for job in jobs)
            states = ", ".join(f"{n} {status}" for status, n in sorted(tally.items()))
            lines = [Text(f"{len(jobs)}/{self.count} jobs: {states}")]
        for line in lines:
            if line.plain not in self.shown:
                self.shown.add(line.plain)
                console.print(Text.assemble((time.strftime("%H:%M:%S"), "dim"), " ", line))


def wait_for_jobs(
    port: int,
    count: int,
    timeout: float,
    on_final: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Every job once `count` are listed and all are final; `on_final` is called once per job
    as soon as it is final. TimedOut after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    progress, seen = Progress(count), set()
    with console.status("waiting for the blob event..."):
        while True:
            jobs = list_jobs(port)
            progress.show(jobs)
            for job in jobs:
                if job["status"] in TERMINAL and job["job_id"] not in seen:
                    seen.add(job["job_id"])
                    if on_final is not None:
                        on_final(job)
            if len(jobs) >= count and all(job["status"] in TERMINAL for job in jobs):
                return jobs
            if time.monotonic() > deadline:
                raise TimedOut(timeout, jobs)
            time.sleep(0.5)


def keep_outputs(blobs: BlobServiceClient, job: dict[str, Any], out: Path) -> Path | None:
    """Download the job's output folder (its own files, not a nested input's) to `out`; None
    for a superseded job, whose folder belongs to the newer upload."""
    if job["status"] == JobStatus.SUPERSEDED.value:
        return None
    container, prefix = job["output"]["container"], job["output"]["folder"] + "/"
    folder = out / container / prefix
    folder.mkdir(parents=True, exist_ok=True)
    client = blobs.get_container_client(container)
    for blob in client.list_blobs(name_starts_with=prefix):
        name = blob.name[len(prefix) :]
        if "/" not in name:
            # Whole files only: Ctrl-C during a download leaves a .part, never a cut file.
            part = folder / f"{name}.part"
            with part.open("wb") as stream:
                client.download_blob(blob.name).readinto(stream)
            part.replace(folder / name)
    return folder


def show_results(job: dict[str, Any], folder: Path | None, rows: int) -> None:
    """A bounded preview: the first `rows` results (or problems), and where the rest are."""
    name = job["input"]["name"]
    if folder is None:
        console.print(
            Text.assemble(
                "\n",
                (name, "bold"),
                ": status ",
                (job["status"], "bold"),
                ": a newer upload of the same name replaced it; the folder holds the "
                "newer job's outputs",
            )  # fmt: skip
        )
        return
    summary = json.loads((folder / "summary.json").read_text())
    console.print(
        Text.assemble(
            "\n",
            (name, "bold"),
            ": status ",
            (summary["status"], "bold"),
            f", counts {summary['counts']}\n  outputs: {folder}",
        )  # fmt: skip
    )
    if summary["status"] == JobStatus.SKIPPED.value:
        earlier = summary.get("duplicate_of") or {}
        console.print(
            Text(
                f"  identical to {earlier.get('name')}: its results are in {earlier.get('output')}"
            )
        )
    elif summary["status"] == JobStatus.REJECTED.value:
        for line in head(folder / "errors.jsonl", rows):
            console.print(Text("  " + clip(line, 200)))
    else:
        preview(folder / "results.jsonl", rows, summary["counts"]["total"])
    for warning in summary.get("warnings", [])[:3]:
        console.print(Text("  warning: " + clip(warning, 200)))


def preview(path: Path, rows: int, total: int) -> None:
    table = Table("line", "custom_id", "status", "question", "answer", show_lines=True)
    for raw in head(path, rows):
        row = json.loads(raw)
        answer = answer_text(row.get("response")) or json.dumps(row.get("error"))
        cells = (row["custom_id"], 30), (row["status"], 20), (question(row), 60), (answer, 80)
        table.add_row(str(row["line"]), *(Text(clip(text, width)) for text, width in cells))
    console.print(table)
    if total > rows:
        console.print(Text(f"  ... and {total - rows:,} more in {path}"))


def head(path: Path, rows: int) -> list[str]:
    """The first `rows` lines of a local file, read no further."""
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as stream:
        return [line.rstrip("\n") for _, line in zip(range(rows), stream, strict=False)]


def clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def question(row: dict[str, Any]) -> str:
    """The last thing the user said, in a chat or a Responses API request."""
    request = row["request"]
    said = request.get("messages") or request.get("input") or ""
    if isinstance(said, list):
        said = said[-1].get("content", "") if said and isinstance(said[-1], dict) else ""
    return str(said)
