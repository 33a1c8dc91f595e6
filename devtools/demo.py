"""`python -m devtools.demo`: the whole flow on this machine, from a dropped file to results.

Checks its arguments, then starts Azurite, the Azure OpenAI batch emulator and the local
Functions host, drops the files (folders with their subfolders, each `_job.json` first) into the
input container under demo/, each with its path from the folder that holds everything given
(`a/data` and `b/data` become demo/a/data/ and demo/b/data/), shows each job's progress and a
short preview of its results, and keeps each job's outputs on disk (`--out`) as soon as it
finishes: a timeout or Ctrl-C keeps what finished and says where.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from azure.storage.blob import BlobServiceClient
from rich.text import Text

from batchdrop_cli.__main__ import main as batchdrop
from devtools.azurite import Azurite
from devtools.demo_jobs import (
    LISTED,
    TERMINAL,
    TimedOut,
    console,
    keep_outputs,
    show_results,
    wait_for_jobs,
)

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / ".demo"
OUTPUTS = LOGS / "output"
DEPLOYMENT = "gpt-4o-mini-batch"
DEMO_KEY = "demo-emulator-key"  # the emulator's own key: local only, guards nothing real


def start(args: list[str], env: dict[str, str], log_name: str, ready: str) -> tuple[Any, str]:
    """Start a helper process; return it with the line that says it is ready."""
    LOGS.mkdir(exist_ok=True)
    log = (LOGS / log_name).open("w")
    proc = subprocess.Popen(
        [sys.executable, "-u", *args],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if ready in line:
            return proc, line.strip()
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise SystemExit(f"{args[1]} did not start; see {LOGS / log_name}")


def stop(proc: Any) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def plan(paths: list[Path]) -> list[tuple[Path, str]]:
    """(local file, blob name) for every file to drop, each `_job.json` before any input.
    Names keep each file's path from the folder that holds everything given, under demo/: a
    folder `a/data` is dropped as demo/data/... alone, and beside `b/data` as demo/a/data/...
    and demo/b/data/..., so two folders of the same name never meet. A folder is dropped with
    its subfolders; hidden files stay; a file given twice is dropped once."""
    given = [Path(os.path.abspath(p)) for p in paths]
    root = common_root(given)
    planned: dict[str, Path] = {}
    for path in given:
        if path.is_dir():
            files = [f for f in sorted(path.rglob("*")) if f.is_file() and not hidden(f, path)]
        else:
            files = [path]
        for file in files:
            planned.setdefault(blob_name(file, root), file)
    pairs = [(file, name) for name, file in planned.items()]
    return sorted(pairs, key=lambda p: (not is_settings(p[1]), p[1].count("/"), p[1]))


def common_root(given: list[Path]) -> Path | None:
    """The folder that holds every given file or folder; None across drives (Windows)."""
    try:
        return Path(os.path.commonpath([p.parent for p in given]))
    except ValueError:
        return None


def blob_name(file: Path, root: Path | None) -> str:
    if root is None:  # no common folder: the whole path, its drive letter as a folder
        parts = [file.anchor.strip("\\/:") or "root", *file.parts[1:]]
        return "demo/" + "/".join(parts)
    return f"demo/{file.relative_to(root).as_posix()}"


def hidden(file: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in file.relative_to(root).parts)


def is_settings(name: str) -> bool:
    return name.rsplit("/", 1)[-1] == "_job.json"


def is_input(name: str) -> bool:
    return not name.rsplit("/", 1)[-1].startswith(("_", "."))


def check_args(args: argparse.Namespace) -> list[tuple[Path, str]]:
    """Everything wrong with the arguments, before any service starts."""
    missing = [str(p) for p in args.files if not p.exists()]
    if missing:
        raise SystemExit(f"demo: no such file or folder: {', '.join(missing)}")
    if args.timeout <= 0 or args.preview < 1:
        raise SystemExit("demo: --timeout must be positive and --preview at least 1")
    planned = plan(args.files)
    if not any(is_input(name) for _, name in planned):
        raise SystemExit("demo: nothing to drop: the files and folders given hold no input file")
    return planned


def drop(blobs: BlobServiceClient, planned: list[tuple[Path, str]]) -> int:
    """Upload the planned files into the input container; the number of inputs among them."""
    for count, (path, name) in enumerate(planned):
        with path.open("rb") as data:
            blobs.get_blob_client("batch-input", name).upload_blob(data, overwrite=True)
        if count < LISTED:
            console.print(Text(f"dropped {path} as batch-input/{name}"))  # names as they are
    if len(planned) > LISTED:
        console.print(f"... and {len(planned) - LISTED} more files")
    return sum(is_input(name) for _, name in planned)


def list_with_the_cli(connection_string: str) -> None:
    """The final listing, as a person would ask for it: `batchdrop jobs` (the command line)."""
    console.print("\n[bold]$ batchdrop jobs[/] (the command line: see the README)")
    batchdrop(["--connection-string", connection_string, "jobs", "--limit", str(LISTED)])


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__)
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        default=sorted((ROOT / "examples").iterdir()),
        help="files or folders (with their subfolders) to drop (default: everything in examples/)",
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the jobs")
    parser.add_argument("--preview", type=int, default=5, help="results shown per job (default 5)")
    parser.add_argument(
        "--out",
        type=Path,
        default=OUTPUTS,
        help="where the outputs are kept, one folder per run (default: .demo/output/)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    planned = check_args(args)
    out = (args.out / time.strftime("%Y%m%d-%H%M%S")).resolve()
    kept: dict[str, Path | None] = {}  # job id -> its outputs on disk, as each job finishes
    return ended(lambda: run(args, planned, out, kept), kept, out)


def ended(demo: Callable[[], int], kept: dict[str, Path | None], out: Path) -> int:
    """Run the demo; on a timeout or Ctrl-C, say which jobs were still open and where the
    outputs of those that finished are (the services are stopped by then)."""
    try:
        return demo()
    except TimedOut as exc:
        waiting = [j["input"]["name"] for j in exc.jobs if j["status"] not in TERMINAL]
        still = ", ".join(waiting[:LISTED]) or "none listed yet"
        console.print(Text(f"\n{exc}; still open: {still}"))
        return stopped(kept, out, 1)
    except KeyboardInterrupt:
        console.print("\ninterrupted")
        return stopped(kept, out, 130)


def stopped(kept: dict[str, Path | None], out: Path, code: int) -> int:
    """Say what was kept when the demo ends early (the services are stopped by then)."""
    count = sum(folder is not None for folder in kept.values())
    if count:
        console.print(Text(f"outputs of the {count} finished job(s) kept in {out}"))
    else:
        console.print("no job had finished: no outputs kept")
    console.print(Text(f"logs: {LOGS}"))
    return code


def run(
    args: argparse.Namespace,
    planned: list[tuple[Path, str]],
    out: Path,
    kept: dict[str, Path | None],
) -> int:
    with ExitStack() as stack:
        connection_string, port = services(stack)
        blobs = BlobServiceClient.from_connection_string(connection_string)
        inputs = drop(blobs, planned)

        def keep(job: dict[str, Any]) -> None:
            kept[job["job_id"]] = keep_outputs(blobs, job, out)

        jobs = sorted(
            wait_for_jobs(port, inputs, args.timeout, keep), key=lambda j: j["input"]["name"]
        )
        for job in jobs[:LISTED]:
            show_results(job, kept[job["job_id"]], args.preview)
        if len(jobs) > LISTED:
            more = f"\n... and {len(jobs) - LISTED} more jobs: their outputs are in {out}"
            console.print(Text(more))
        list_with_the_cli(connection_string)
        console.print(Text(f"\noutputs kept in {out}\nlogs: {LOGS}"))
    return 0


def services(stack: ExitStack) -> tuple[str, int]:
    """Start Azurite, the emulator and the host (stopped when `stack` closes): the storage
    connection string and the host's port."""
    console.print("starting Azurite...")
    azurite = stack.enter_context(Azurite())
    env = {**os.environ, "AzureWebJobsStorage": azurite.connection_string}
    console.print("starting the Azure OpenAI batch emulator...")
    emulator = ["-m", "devtools.emulator", "--port", "0", "--api-key", DEMO_KEY,
                "--deployments", DEPLOYMENT]  # fmt: skip
    emu, line = start(emulator, env, "emulator.log", "listening on")
    stack.callback(stop, emu)
    env.update(
        AZURE_OPENAI_ENDPOINT=line.rsplit(" ", 1)[-1],
        AZURE_OPENAI_API_KEY=DEMO_KEY,
        AZURE_OPENAI_DEPLOYMENT=DEPLOYMENT,
        # Bindings name these settings (%...%): the host needs them set, as Azure does.
        BATCH_INPUT_CONTAINER="batch-input",
        BATCH_COMPLETION_QUEUE="batch-completions",
        POLL_SCHEDULE="*/2 * * * * *",
        BATCH_STATUS_MIN_SECONDS="1",  # the emulator needs no once-a-minute courtesy
    )
    console.print("starting the local Functions host...")
    host_args = ["-m", "devtools.host", "--port", "0", "--settings", "/nonexistent"]
    host, line = start(host_args, env, "host.log", "host ready")
    stack.callback(stop, host)
    return azurite.connection_string, int(line.split("127.0.0.1:")[1].split("/")[0])


if __name__ == "__main__":
    raise SystemExit(main())
