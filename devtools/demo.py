"""`python -m devtools.demo`: the whole flow on this machine, from a dropped file to results.

Checks its arguments, then starts Azurite, the Azure OpenAI batch emulator and the local
Functions host, drops the files (folders with their subfolders, each `_job.json` first) into the
input container under demo/, shows each job's progress and a short preview of its results, and
keeps every output on disk (`--out`) after the services stop.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from azure.storage.blob import BlobServiceClient
from rich.console import Console
from rich.table import Table

from batchdrop_cli.__main__ import main as batchdrop
from devtools.azurite import Azurite
from shared.results.results_csv import answer_text

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / ".demo"
OUTPUTS = LOGS / "output"
LISTED = 20  # dropped files named one by one; the rest are counted
TERMINAL = {"completed", "failed", "cancelled", "expired", "rejected", "superseded", "skipped"}
DEPLOYMENT = "gpt-4o-mini-batch"
DEMO_KEY = "demo-emulator-key"  # the emulator's own key: local only, guards nothing real
console = Console()


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


def api(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/{path}", timeout=10) as resp:
        return json.loads(resp.read())


def describe(job: dict[str, Any]) -> str:
    """One line per job from the API's listing (GET /api/jobs: the job rows, newest first)."""
    finished = job["status"] in TERMINAL
    done = job["succeeded"] + job["failed"] if finished else job["requests_done"]
    return (
        f"{job['input']['name']}: [bold]{job['status']}[/] "
        f"(batches: {job['batch_count']}; {done}/{job['total']} requests done)"
    )


def wait_for_jobs(port: int, count: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    shown: set[str] = set()
    with console.status("waiting for the blob event..."):
        while time.monotonic() < deadline:
            jobs = api(port, f"jobs?limit={min(max(count, 1), 200)}")["jobs"]
            for line in map(describe, jobs):
                if line not in shown:  # one line per change, so it reads well in a log too
                    shown.add(line)
                    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {line}")
            if len(jobs) >= count and all(j["status"] in TERMINAL for j in jobs):
                return jobs
            time.sleep(0.5)
    raise SystemExit(f"jobs not finished after {timeout:.0f}s; see the logs in {LOGS}")


def keep_outputs(blobs: BlobServiceClient, job: dict[str, Any], out: Path) -> Path:
    """Download the job's output folder (its own files, not a nested input's) to `out`."""
    container, prefix = job["output"]["container"], job["output"]["folder"] + "/"
    folder = out / container / prefix
    folder.mkdir(parents=True, exist_ok=True)
    client = blobs.get_container_client(container)
    for blob in client.list_blobs(name_starts_with=prefix):
        name = blob.name[len(prefix) :]
        if "/" not in name:
            with (folder / name).open("wb") as stream:
                client.download_blob(blob.name).readinto(stream)
    return folder


def show_results(blobs: BlobServiceClient, job: dict[str, Any], out: Path, rows: int) -> None:
    """A bounded preview: the first `rows` results (or problems), and where the rest are."""
    folder = keep_outputs(blobs, job, out)
    summary = json.loads((folder / "summary.json").read_text())
    console.print(
        f"\n[bold]{job['input']['name']}[/]: status [bold]{summary['status']}[/], "
        f"counts {summary['counts']}\n  outputs: {folder}"
    )
    if summary["status"] in ("rejected", "skipped"):
        for line in head(folder / "errors.jsonl", rows):
            console.print("  " + clip(line, 200))
    else:
        preview(folder / "results.jsonl", rows, summary["counts"]["total"])
    for warning in summary.get("warnings", [])[:3]:
        console.print("  warning: " + clip(warning, 200))


def preview(path: Path, rows: int, total: int) -> None:
    table = Table("line", "custom_id", "status", "question", "answer", show_lines=True)
    for raw in head(path, rows):
        row = json.loads(raw)
        answer = answer_text(row.get("response")) or json.dumps(row.get("error"))
        table.add_row(
            str(row["line"]), clip(row["custom_id"], 30), row["status"], clip(question(row), 60),
            clip(answer, 80),
        )  # fmt: skip
    console.print(table)
    if total > rows:
        console.print(f"  ... and {total - rows:,} more in {path}")


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


def plan(paths: list[Path]) -> list[tuple[Path, str]]:
    """(local file, blob name) for every file to drop, each `_job.json` before any input.
    A folder is dropped with its subfolders, under demo/<folder name>/; hidden files stay."""
    planned: list[tuple[Path, str]] = []
    for path in paths:
        if path.is_dir():
            files = [f for f in sorted(path.rglob("*")) if f.is_file() and not hidden(f, path)]
            planned += [(f, f"demo/{path.name}/{f.relative_to(path).as_posix()}") for f in files]
        else:
            planned.append((path, f"demo/{path.name}"))
    return sorted(planned, key=lambda p: (not is_settings(p[1]), p[1].count("/")))


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
            console.print(f"dropped {path} as batch-input/{name}")
    if len(planned) > LISTED:
        console.print(f"... and {len(planned) - LISTED} more files")
    return sum(is_input(name) for _, name in planned)


def list_with_the_cli(connection_string: str) -> None:
    """The final listing, as a person would ask for it: `batchdrop jobs` (the command line)."""
    console.print("\n[bold]$ batchdrop jobs[/] (the command line: see the README)")
    batchdrop(["--connection-string", connection_string, "jobs", "--limit", str(LISTED)])


def main(argv: list[str] | None = None) -> int:
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
    args = parser.parse_args(argv)
    planned = check_args(args)
    out = (args.out / time.strftime("%Y%m%d-%H%M%S")).resolve()
    with ExitStack() as stack:
        console.print("starting Azurite...")
        azurite = stack.enter_context(Azurite())
        env = {**os.environ, "AzureWebJobsStorage": azurite.connection_string}
        console.print("starting the Azure OpenAI batch emulator...")
        emu, line = start(
            [
                "-m",
                "devtools.emulator",
                "--port",
                "0",
                "--api-key",
                DEMO_KEY,
                "--deployments",
                DEPLOYMENT,
            ],
            env,
            "emulator.log",
            "listening on",
        )
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
        host, line = start(
            ["-m", "devtools.host", "--port", "0", "--settings", "/nonexistent"],
            env,
            "host.log",
            "host ready",
        )
        stack.callback(stop, host)
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
        inputs = drop(blobs, planned)
        for job in sorted(
            wait_for_jobs(port, inputs, args.timeout), key=lambda j: j["input"]["name"]
        ):
            show_results(blobs, job, out, args.preview)
        list_with_the_cli(azurite.connection_string)
        console.print(f"\noutputs kept in {out}\nlogs: {LOGS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
