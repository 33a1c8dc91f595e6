"""`python -m devtools.demo`: the whole flow on this machine, from a dropped file to results.

Starts Azurite, the Azure OpenAI batch emulator and the local Functions host, drops the example
file(s) into the input container, shows each job's progress, then prints the merged results.
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

from devtools.azurite import Azurite
from shared.results.results_csv import answer_text

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / ".demo"
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
    done = sum(b["completed"] + b["failed"] for b in job["batches"])
    batches = ", ".join(str(b["status"]) for b in job["batches"]) or "-"
    return (
        f"{job['input']['name']}: [bold]{job['status']}[/] "
        f"(batches: {batches}; {done}/{job['total']} requests done)"
    )


def wait_for_jobs(port: int, count: int, timeout: float) -> list[dict[str, Any]]:
    terminal = {"completed", "failed", "cancelled", "expired", "rejected"}
    deadline = time.monotonic() + timeout
    shown: set[str] = set()
    with console.status("waiting for the blob event..."):
        while time.monotonic() < deadline:
            jobs = api(port, "jobs")
            for line in map(describe, jobs):
                if line not in shown:  # one line per change, so it reads well in a log too
                    shown.add(line)
                    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {line}")
            if len(jobs) >= count and all(j["status"] in terminal for j in jobs):
                return jobs
            time.sleep(0.5)
    raise SystemExit(f"jobs not finished after {timeout:.0f}s; see the logs in {LOGS}")


def show_results(blobs: BlobServiceClient, job: dict[str, Any]) -> None:
    container, prefix = job["output"].split("/", 1)
    out = blobs.get_container_client(container)
    summary = json.loads(out.download_blob(prefix + "summary.json").readall())
    console.print(
        f"\n[bold]{job['input']['name']}[/] -> {job['output']}  "
        f"status [bold]{summary['status']}[/], counts {summary['counts']}"
    )
    if summary["status"] == "rejected":
        console.print(out.download_blob(prefix + "errors.jsonl").readall().decode())
        return
    table = Table("line", "custom_id", "status", "question", "answer", show_lines=True)
    for raw in out.download_blob(prefix + "results.jsonl").readall().splitlines():
        row = json.loads(raw)
        answer = answer_text(row.get("response")) or json.dumps(row.get("error"))
        table.add_row(
            str(row["line"]), row["custom_id"], row["status"], question(row)[:60], answer[:80]
        )
    console.print(table)
    if summary.get("warnings"):
        console.print("warnings: " + "; ".join(summary["warnings"]))


def question(row: dict[str, Any]) -> str:
    """The last thing the user said, in a chat or a Responses API request."""
    request = row["request"]
    said = request.get("messages") or request.get("input") or ""
    if isinstance(said, list):
        said = said[-1].get("content", "") if said and isinstance(said[-1], dict) else ""
    return str(said)


def drop(blobs: BlobServiceClient, path: Path) -> int:
    """Upload a file, or a folder's files (its `_job.json` first), under demo/; count inputs."""
    files = sorted(path.iterdir(), key=lambda p: p.name != "_job.json") if path.is_dir() else [path]
    folder = f"demo/{path.name}/" if path.is_dir() else "demo/"
    for file in files:
        blobs.get_blob_client("batch-input", folder + file.name).upload_blob(
            file.read_bytes(), overwrite=True
        )
        console.print(f"dropped {file.name} into batch-input/{folder}")
    return sum(not f.name.startswith(("_", ".")) for f in files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__)
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        default=sorted((ROOT / "examples").iterdir()),
        help="files or folders to drop (default: everything in examples/)",
    )
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args(argv)
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
        inputs = sum(drop(blobs, path) for path in args.files)
        for job in wait_for_jobs(port, inputs, args.timeout):
            show_results(blobs, job)
        console.print(f"\nlogs: {LOGS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
