"""Poll benchmark: one poll tick over many open jobs, against a naive sequential loop.

    .venv/bin/python bench/bench_poll.py [--jobs 1000] [--latency 0.05] [--concurrency 16]
                                         [--quick]

Starts Azurite (the job table) and the Azure OpenAI emulator (in its own process, with
`latency` added to every API call), creates in-progress jobs that each have one live batch
at the emulator, and times:

- naive: one batches.retrieve after another, nothing else (no table reads or writes);
- calls only: the same status calls on as many threads as the tick uses, nothing else: what
  the tick would cost if the job table were free;
- ours: shared.poll.poll_all(deps), one timer tick, with BATCH_STATUS_MIN_SECONDS=0 so that
  every job's batch is asked for its status (and every job read, leased and written back).

It also prints the CPU seconds each process spent during the tick, to show where time goes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import openai  # noqa: E402
import orjson  # noqa: E402

from devtools.azurite import Azurite  # noqa: E402
from devtools.emulator import Emulator, EmulatorConfig, Timings  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.deps import Deps  # noqa: E402
from shared.jobs.model import (  # noqa: E402
    Job,
    JobStatus,
    Part,  # noqa: E402
)
from shared.poll import TickReport, poll_all  # noqa: E402
from shared.storage import clients  # noqa: E402

API_KEY = "bench-key"
DEPLOYMENT = "gpt-4o-mini-batch"
URL = "/v1/chat/completions"
TARGET_SECONDS = 5.0  # for 1,000 jobs
SETUP_THREADS = 32
# Batches stay in progress for the whole run; only validation has to pass first.
TIMINGS = Timings(file_processing=0.01, validating=0.01, in_progress=3600)


# ----- the emulator, in its own process: its CPU stands for Azure's, not ours ---------------


def serve(conn: Connection, latency: float) -> None:
    config = EmulatorConfig(api_key=API_KEY, timings=TIMINGS, latency=latency)
    with Emulator(config) as emulator:
        conn.send((emulator.url, os.getpid()))
        conn.recv()  # until the parent says stop


@dataclass
class RemoteEmulator:
    url: str
    pid: int
    conn: Connection
    process: Any

    @classmethod
    def start(cls, latency: float) -> RemoteEmulator:
        parent, child = multiprocessing.Pipe()
        process = multiprocessing.get_context("spawn").Process(
            target=serve, args=(child, latency), daemon=True
        )
        process.start()
        url, pid = parent.recv()
        return cls(url, pid, parent, process)

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(10)


# ----- setup ----------------------------------------------------------------------------------


def settings_for(storage: str, endpoint: str, concurrency: int) -> Settings:
    env = {
        "AzureWebJobsStorage": storage,
        "AZURE_OPENAI_ENDPOINT": endpoint,
        "AZURE_OPENAI_API_KEY": API_KEY,
        "AZURE_OPENAI_DEPLOYMENT": DEPLOYMENT,
        "BATCH_INPUT_CONTAINER": "bench-input",
        "BATCH_OUTPUT_CONTAINER": "bench-output",
        "BATCH_WORK_CONTAINER": "bench-work",
        "BATCH_JOBS_TABLE": "benchjobs",
        "BATCH_COMPLETION_QUEUE": "bench-done",
        "BATCH_STATUS_MIN_SECONDS": "0",
        "BATCH_POLL_CONCURRENCY": str(concurrency),
    }
    return Settings.from_env(env)


def client_for(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/openai/v1/", api_key=API_KEY, max_retries=0)


def live_batches(client: openai.OpenAI, count: int) -> list[str]:
    """`count` batches in progress at the emulator, all from one small input file."""
    line = {
        "custom_id": "q1",
        "method": "POST",
        "url": URL,
        "body": {"model": DEPLOYMENT, "messages": [{"role": "user", "content": "Hi"}]},
    }
    upload = client.files.create(file=("bench.jsonl", orjson.dumps(line)), purpose="batch")
    while client.files.retrieve(upload.id).status != "processed":
        time.sleep(0.01)

    def create(_: int) -> str:
        return client.batches.create(
            input_file_id=upload.id, endpoint=URL, completion_window="24h"
        ).id

    return parallel(create, range(count), SETUP_THREADS)


def open_jobs(deps: Deps, batch_ids: list[str]) -> None:
    """One in-progress job per batch, as submit leaves them: in the table and its open index."""

    def create(numbered: tuple[int, str]) -> None:
        number, batch_id = numbered
        part = Part(0, DEPLOYMENT, URL, 1, file_id="file-bench", batch_id=batch_id)
        part = replace(part, remote_status="in_progress", uploaded_at=int(time.time()))
        job = Job.new("bench-input", f"job-{number:05d}.jsonl", f'"0x{number:x}"')
        job = job.changed(status=JobStatus.IN_PROGRESS, parts=(part,), total=1)
        if deps.store.create(job) is None:
            raise RuntimeError(f"job {job.job_id} exists already")

    parallel(create, enumerate(batch_ids), SETUP_THREADS)


def parallel(work: Callable[[Any], Any], items: Iterable[Any], threads: int) -> list[Any]:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(work, items))


def wait_in_progress(client: openai.OpenAI, batch_ids: list[str]) -> None:
    while client.batches.retrieve(batch_ids[-1]).status != "in_progress":
        time.sleep(0.05)


# ----- the variants ---------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process so far (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(run: Callable[[], Any], pids: dict[str, int]) -> tuple[float, dict[str, float], Any]:
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    return seconds, cpu, result


def naive(client: openai.OpenAI, batch_ids: list[str]) -> None:
    for batch_id in batch_ids:
        client.batches.retrieve(batch_id)


def calls_only(client: openai.OpenAI, batch_ids: list[str], threads: int) -> None:
    parallel(client.batches.retrieve, batch_ids, threads)


# ----- reporting ------------------------------------------------------------------------------


def table(jobs: int, rows: dict[str, tuple[float, dict[str, float], Any]]) -> None:
    naive_s = rows["naive"][0]
    names = list(rows["ours"][1])
    cpu_heads = "".join(f" {name + ' cpu':>13}" for name in names)
    print(f"  {'variant':10} {'wall s':>7} {'per job ms':>11} {'vs naive':>9}{cpu_heads}")
    for variant, (wall, cpu, _) in rows.items():
        cpus = "".join(f" {cpu[name]:13.2f}" for name in names)
        print(f"  {variant:10} {wall:7.2f} {wall / jobs * 1000:11.1f} {naive_s / wall:8.1f}x{cpus}")


def verdict(jobs: int, seconds: float, tick: TickReport, concurrency: int) -> None:
    print(
        f"  tick: {tick.seen} seen, {tick.advanced} advanced, {tick.errors} errors, "
        f"{tick.skipped} skipped; {concurrency} threads"
    )
    if tick.seen != jobs or tick.errors or tick.skipped:
        sys.exit("the tick did not poll every job cleanly")
    per_thousand = seconds * 1000 / jobs
    met = per_thousand < TARGET_SECONDS
    print(
        f"\ntarget (docs/reliability.md): one tick over 1,000 jobs under {TARGET_SECONDS:g} s: "
        f"{per_thousand:.2f} s per 1,000 jobs, {'met' if met else 'MISSED'}"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000, help="open jobs, one batch each")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added per API call")
    parser.add_argument("--concurrency", type=int, default=16, help="BATCH_POLL_CONCURRENCY")
    parser.add_argument("--quick", action="store_true", help="a 10x smaller run")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    jobs = max(1, args.jobs // 10) if args.quick else args.jobs
    print(
        f"poll benchmark: one tick over {jobs:,} open jobs, "
        f"{args.latency * 1000:g} ms added to every API call"
    )
    emulator = RemoteEmulator.start(args.latency)
    try:
        with Azurite() as azurite:
            run(args, jobs, azurite, emulator)
    finally:
        emulator.stop()


def run(args: argparse.Namespace, jobs: int, azurite: Azurite, emulator: RemoteEmulator) -> None:
    settings = settings_for(azurite.connection_string, emulator.url, args.concurrency)
    clients.ensure_resources(settings)
    deps = Deps.from_settings(settings)
    client = client_for(emulator.url)
    batch_ids = live_batches(client, jobs)
    open_jobs(deps, batch_ids)
    wait_in_progress(client, batch_ids)
    assert azurite.process is not None
    pids = {"python": os.getpid(), "azurite": azurite.process.pid, "emulator": emulator.pid}
    rows = {
        "naive": timed(lambda: naive(client, batch_ids), pids),
        "calls only": timed(lambda: calls_only(client, batch_ids, args.concurrency), pids),
        "ours": timed(lambda: poll_all(deps), pids),
    }
    table(jobs, rows)
    verdict(jobs, rows["ours"][0], rows["ours"][2], args.concurrency)


if __name__ == "__main__":
    main()
