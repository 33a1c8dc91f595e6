"""`batchdrop results`: a job's outputs, downloaded (`--out DIR`) or previewed: the first
rows of results.jsonl (or results.csv), read no further than they need."""

from __future__ import annotations

import argparse
import codecs
import csv
import json
import re
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from batchdrop_cli.connect import Connection
from batchdrop_cli.find import find_job
from batchdrop_cli.views import clip, plain
from shared.jobs.model import Job
from shared.results.answers import answer_text
from shared.results.results_csv import LEFT
from shared.storage.names import JOB_META, RESULTS, RESULTS_CSV, work_prefix
from shared.storage.outputs import FolderState, folder_state

# A results.csv cell holds a whole answer or input value (the csv module refuses fields over
# 128 KiB by default); the preview clips each cell to a few dozen characters anyway.
CSV_FIELD_LIMIT = 1 << 28
MAX_ROWS = 1000  # rows a preview prints at most: more is a download (--out)
DELIMITERS = ",;\t"  # the separators an input CSV, and so its results.csv, may have
SNIFFED_LINES = 5  # lines of results.csv read to guess its separator
QUOTED = re.compile(r'"(?:[^"]|"")*"')


def preview_rows(text: str) -> int:
    """--rows: 1 to MAX_ROWS (argparse turns the refusal into a usage error, exit 2)."""
    rows = int(text) if text.strip().lstrip("-").isdigit() else 0
    if not 1 <= rows <= MAX_ROWS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give 1 to {MAX_ROWS} rows; --out DIR downloads all of them"
        )
    return rows


class NoResults(LookupError):
    """The job has no such output (yet)."""


def results(conn: Connection, args: argparse.Namespace, console: Console) -> int:
    job = find_job(conn, args.job)
    state = folder_state(conn.output, job.name)
    if state.owner not in (None, job.job_id):
        newer = f"the folder now holds job {state.owner}'s outputs (a newer upload)"
        console.print(Text(newer, style="yellow"))
    wanted = RESULTS_CSV if args.csv else RESULTS
    if wanted not in state.files:
        raise NoResults(_missing(job, wanted, state))
    if args.out:
        names = [wanted] if args.csv else [n for n in state.files if n != RESULTS_CSV]
        for name in names:
            console.print(Text(f"saved {_download(conn.output, state.folder, name, args.out)}"))
        return 0
    rows = args.rows
    if args.csv:
        work = conn.blobs.get_container_client(conn.work_container)
        recorded = recorded_delimiter(work, state.owner or job.job_id)
        preview = _csv_preview(conn.output, state, rows, recorded)
    else:
        preview = _preview(conn.output, state, rows)
    console.print(preview)
    if job.total > rows:
        console.print(f"the first {rows} of {job.total}; all of them: --out DIR")
    return 0


def _missing(job: Job, name: str, state: FolderState) -> str:
    if not state.files:
        return f"no outputs yet for {job.name}: the job is {job.status.value}"
    if name == RESULTS_CSV:
        return "no results.csv: only prompt, CSV and text inputs and structured outputs have one"
    return f"no {name} for {job.name} (it has {', '.join(state.files)})"


class CannotSave(ValueError):
    """--out names no folder the results can be written into."""


def _download(container: ContainerClient, folder: str, name: str, out: Path) -> Path:
    path = out / folder / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as stream:
            container.download_blob(f"{folder}/{name}").readinto(stream)
    except OSError as exc:
        raise CannotSave(_unsaved(out, path, exc)) from exc
    return path


def _unsaved(out: Path, path: Path, exc: OSError) -> str:
    """Which path refused and what to do: --out is a folder (made if missing) you may write."""
    where = exc.filename or path
    why = exc.strerror or type(exc).__name__
    if isinstance(exc, (NotADirectoryError, FileExistsError)):
        fix = "a file is in the way: give --out a folder, or a path where one can be made"
    else:
        fix = "give --out a folder you may write to, on a disk with room"
    return f"cannot save into --out {out}: {where}: {why}; {fix}"


def lines(container: ContainerClient, name: str) -> Iterator[str]:
    """A blob's text lines with their ends, streamed: a caller that stops early reads no
    further than the chunk it is in."""
    decode = codecs.getincrementaldecoder("utf-8-sig")(errors="replace").decode
    left = ""
    for chunk in container.download_blob(name).chunks():
        *whole, left = (left + decode(chunk)).split("\n")
        yield from (line + "\n" for line in whole)
    if left:
        yield left


def _preview(container: ContainerClient, state: FolderState, rows: int) -> Table:
    table = Table("line", "custom_id", "status", "tries", "answer or error")
    found = lines(container, f"{state.folder}/{RESULTS}")
    for raw in (r for _, r in zip(range(rows), found, strict=False)):
        row = json.loads(raw)
        table.add_row(str(row["line"]), plain(clip(row["custom_id"], 30)), row["status"],
                      str(row.get("attempts", "")), plain(clip(_said(row), 100)))  # fmt: skip
    return table


def _said(row: dict[str, Any]) -> str:
    if row["status"] == "succeeded":
        return answer_text(row.get("response")) or json.dumps(row.get("response"))[:200]
    error = row.get("error") or {}
    return f"{error.get('code')}: {error.get('message')}"


def _csv_preview(
    container: ContainerClient, state: FolderState, rows: int, recorded: str | None
) -> Table:
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    found = lines(container, f"{state.folder}/{RESULTS_CSV}")
    head = list(islice(found, SNIFFED_LINES))
    reader = csv.reader(_chain(head, found), delimiter=recorded or guess_delimiter(head))
    header = next(reader, [])
    # A header is a column name a person chose: shown literally (Column takes Text).
    table = Table(*(Column(plain(clip(h, 30))) for h in header))
    for _, row in zip(range(rows), reader, strict=False):
        table.add_row(*(plain(clip(cell, 60)) for cell in row))
    return table


def _chain(first: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from first
    yield from rest


def recorded_delimiter(work: ContainerClient, job_id: str) -> str | None:
    """The separator the job wrote results.csv with (the input CSV's own), from its job.json;
    None once the job's work files are cleaned up (they stay only when requests failed)."""
    try:
        raw = work.download_blob(work_prefix(job_id) + JOB_META).readall()
        doc = json.loads(raw)
    except (ResourceNotFoundError, ValueError):
        return None
    found = doc.get("delimiter") if isinstance(doc, dict) else None
    return found if isinstance(found, str) and len(found) == 1 and found in DELIMITERS else None


def guess_delimiter(head: list[str]) -> str:
    """The separator of a results.csv whose job left no record of it: the one after its first
    column (batchdrop's own `custom_id`, never quoted); else csv.Sniffer over its first lines,
    among the separators an input CSV may have; else the one found most often in the header
    outside quotes (a quoted column name may hold any of them)."""
    first, own = (head[0] if head else ""), LEFT[0]
    after = first[len(own) : len(own) + 1] if first.startswith(own) else ""
    if after and after in DELIMITERS:
        return after
    try:
        return csv.Sniffer().sniff("".join(head), delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = QUOTED.sub("", head[0] if head else "")
        return max(DELIMITERS, key=header.count)
