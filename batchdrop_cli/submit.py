"""`batchdrop submit`: upload files and folders into the input container (each folder's
`_job.json` first, hidden files left out), then follow the jobs they start."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.text import Text

from batchdrop_cli.connect import Connection
from batchdrop_cli.watch import follow
from shared.jobs.model import job_id_for
from shared.storage.names import JOB_SETTINGS, is_ignored


class NothingToSubmit(ValueError):
    """The files and folders given hold no input file."""


def plan(paths: list[Path], to: str) -> list[tuple[Path, str]]:
    """(local file, blob name) for every file: a folder goes with its subfolders under
    `to/<folder name>/`, a file under `to/`; settings before any input they apply to."""
    prefix = f"{to.strip('/')}/" if to.strip("/") else ""
    planned: list[tuple[Path, str]] = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"no such file or folder: {path}")
        if path.is_dir():
            files = [f for f in sorted(path.rglob("*")) if f.is_file() and not _hidden(f, path)]
            planned += [(f, f"{prefix}{path.name}/{f.relative_to(path).as_posix()}") for f in files]
        else:
            planned.append((path, f"{prefix}{path.name}"))
    if not any(not is_ignored(name) for _, name in planned):
        raise NothingToSubmit("nothing to submit: the files and folders given hold no input file")
    return sorted(planned, key=lambda p: (p[1].rsplit("/", 1)[-1] != JOB_SETTINGS, p[1].count("/")))


def _hidden(file: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in file.relative_to(root).parts)


def _not_an_input(name: str) -> str:
    """What the app makes of a name it never reads as an input."""
    if name.rsplit("/", 1)[-1] == JOB_SETTINGS:
        return "settings"
    return "not an input: the app ignores names starting with _ or ., so no job runs it"


def submit(conn: Connection, args: argparse.Namespace, console: Console) -> int:
    planned = plan(args.paths, args.to or "")
    started: list[tuple[str, str]] = []
    for path, name in planned:
        with path.open("rb") as data:
            done = conn.inputs.get_blob_client(name).upload_blob(data, overwrite=True)
        said = f"uploaded {path} as {conn.input_container}/{name}"
        if is_ignored(name):
            console.print(Text(f"{said} ({_not_an_input(name)})"))
            continue
        job_id = job_id_for(conn.input_container, name, str(done["etag"]))
        started.append((job_id, name))
        console.print(Text(f"{said}: job {job_id}"))
    if not args.wait:
        return 0
    return follow(conn, started, console, args.timeout, args.interval)
