"""A job of 1,000 batches, phase by phase, against Azurite and the emulator: how long each
phase takes and how many table reads and writes, service calls and blob calls it makes.

    .venv/bin/python bench/bench_big_job.py [--batches 1000] [--threads 1,8] [--latency 0]

One request per batch (BATCH_MAX_REQUESTS=1). The phases are the app's own functions, each
under the job's lease as the triggers run them:

- prepare: read the blob, write the work files (lifecycle/prepare.py);
- submit: upload every part's file and create its batch (batches/active.py), until all exist;
- tick, live: one timer tick (poll.py) while every batch runs: a status call for each and
  their progress saved;
- tick, ended: one tick once every batch has ended: track each, hand the job to completion;
- completion: collect the service's files, merge, publish (results/collect.py, complete.py);
- clean-up: delete every file at the service and the work files (lifecycle/cleanup.py).

`--threads` lists how many parts a step works on at once (shared/batches/parallel.py): 1 is
one part after another, the app's way before; the app's default is 8.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from devtools.azurite import Azurite  # noqa: E402
from devtools.emulator import Emulator, EmulatorConfig, Timings  # noqa: E402
from shared.batches import parallel  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.deps import Deps  # noqa: E402
from shared.intake.receive import record_job  # noqa: E402
from shared.jobs.lease import run_leased  # noqa: E402
from shared.jobs.model import Job, JobStatus  # noqa: E402
from shared.jobs.store import TableJobStore  # noqa: E402
from shared.lifecycle.advance import advance  # noqa: E402
from shared.lifecycle.cleanup import cleanup  # noqa: E402
from shared.lifecycle.prepare import prepare  # noqa: E402
from shared.poll import poll_all  # noqa: E402
from shared.results.collect import collect  # noqa: E402
from shared.results.complete import finish_round  # noqa: E402
from shared.storage import clients  # noqa: E402

API_KEY = "bench-key"
DEPLOYMENT = "gpt-4o-mini-batch"
# Batches run for an hour of the emulator's clock, which the parent moves on after one tick:
# the first tick sees all 1,000 in progress, the second all ended.
TIMINGS = Timings(file_processing=0, validating=0.05, in_progress=3600, finalizing=0.05)
WRITES = ("submit_transaction", "create_entity", "update_entity", "upsert_entity", "delete_entity")
READS = ("get_entity", "query_entities")


# ----- the emulator, in its own process: its CPU stands for Azure's, not ours ---------------


def serve(conn: Connection, latency: float, ahead: Any) -> None:
    def clock() -> float:
        return time.monotonic() + ahead.value

    config = EmulatorConfig(api_key=API_KEY, timings=TIMINGS, latency=latency, clock=clock)
    with Emulator(config) as emulator:
        conn.send(emulator.url)
        conn.recv()  # until the parent says stop


@dataclass
class RemoteEmulator:
    url: str
    conn: Connection
    process: Any
    ahead: Any  # seconds the emulator's clock is ahead of ours
    pid: int

    @classmethod
    def start(cls, latency: float) -> RemoteEmulator:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        ahead = context.Value("d", 0.0)
        process = context.Process(target=serve, args=(child, latency, ahead), daemon=True)
        process.start()
        return cls(parent.recv(), parent, process, ahead, process.pid or 0)

    def finish_batches(self) -> None:
        """Every batch created so far ends (its hour passes)."""
        with self.ahead.get_lock():
            self.ahead.value += TIMINGS.in_progress + 60

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(10)


# ----- counting what each phase asks of the table, the service and blob storage -------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a process so far (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Counting:
    """Calls to `inner` counted by method name (a table transaction counts its rows too)."""

    def __init__(self, inner: Any, counts: Counter[str]) -> None:
        self._inner, self._counts = inner, counts

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._counts[name] += 1
            if name == "submit_transaction":
                self._counts["rows written"] += len(args[0])
            return attr(*args, **kwargs)

        return counted


def deps_for(storage: str, endpoint: str, counts: dict[str, Counter[str]]) -> Deps:
    tag = uuid.uuid4().hex[:8]
    env = {
        "AzureWebJobsStorage": storage,
        "AZURE_OPENAI_ENDPOINT": endpoint,
        "AZURE_OPENAI_API_KEY": API_KEY,
        "AZURE_OPENAI_DEPLOYMENT": DEPLOYMENT,
        "BATCH_INPUT_CONTAINER": f"in-{tag}",
        "BATCH_OUTPUT_CONTAINER": f"out-{tag}",
        "BATCH_WORK_CONTAINER": f"work-{tag}",
        "BATCH_JOBS_TABLE": f"jobs{tag}",
        "BATCH_COMPLETION_QUEUE": f"done-{tag}",
        "BATCH_MAX_REQUESTS": "1",
        "BATCH_FILE_WAIT_SECONDS": "0",
        "BATCH_STATUS_MIN_SECONDS": "0",
        "BATCH_SETTLE_SECONDS": "0",
    }
    settings = Settings.from_env(env)
    clients.ensure_resources(settings)
    deps = Deps.from_settings(settings)
    table = clients.table_client(settings.storage, settings.jobs_table)
    return replace(
        deps,
        store=TableJobStore(Counting(table, counts["table"])),
        service=Counting(deps.service, counts["service"]),  # type: ignore[arg-type]
    )


# ----- the phases -----------------------------------------------------------------------------


def run_phases(
    deps: Deps, emulator: RemoteEmulator, batches: int, done: Callable[[str, float], None]
) -> None:
    """Each phase in turn; `done(name, seconds)` after each."""
    s = deps.settings
    message = {"role": "user", "content": "q"}
    lines = b"".join(
        orjson.dumps({"custom_id": f"r{n}", "body": {"messages": [message]}}) + b"\n"
        for n in range(batches)
    )
    client = deps.blobs.get_blob_client(s.input_container, "big.jsonl")
    client.upload_blob(lines, overwrite=True)
    props = client.get_blob_properties()
    job = record_job(deps, s.input_container, "big.jsonl", props.etag, props.last_modified)
    assert job is not None

    def leased(step: Callable[[Job], Job]) -> Job:
        current = deps.store.get(job.job_id)
        assert current is not None
        done = run_leased(deps.store, current, s.lease_seconds, s.clock_skew_seconds, step)
        assert done is not None
        return done

    for name, phase in (
        ("prepare", lambda: leased(lambda j: prepare(deps, j))),
        ("submit", lambda: submit_all(deps, job.job_id, batches)),
        ("tick, live", lambda: tick(deps, job.job_id, JobStatus.IN_PROGRESS)),
        ("tick, ended", lambda: tick(deps, job.job_id, JobStatus.COMPLETING, emulator)),
        ("completion", lambda: leased(lambda j: finish_round(deps, collect(deps, j)))),
        ("clean-up", lambda: leased(lambda j: cleanup(deps, j))),
    ):
        started = time.perf_counter()
        phase()
        done(name, time.perf_counter() - started)
    final = deps.store.get(job.job_id)
    assert final is not None and final.status == JobStatus.COMPLETED and final.cleaned, final


def submit_all(deps: Deps, job_id: str, batches: int) -> None:
    """Steps until every part has its batch (one is enough when files are processed at once)."""
    while True:
        job = deps.store.get(job_id)
        assert job is not None
        if sum(p.batch_id is not None for p in job.parts) == batches:
            return
        advance(deps, job)


def tick(
    deps: Deps, job_id: str, expected: JobStatus, emulator: RemoteEmulator | None = None
) -> None:
    """One timer tick (after the batches ended, if `emulator` is given)."""
    if emulator is not None:
        emulator.finish_batches()
    report = poll_all(deps)
    job = deps.store.get(job_id)
    assert report.errors == 0 and job is not None and job.status == expected, job


# ----- the parent -------------------------------------------------------------------------------


def measure(azurite: Azurite, emulator: RemoteEmulator, batches: int, threads: int) -> None:
    parallel.THREADS = threads  # the app's constant: how many parts a step works on at once
    counts: dict[str, Counter[str]] = {"table": Counter(), "service": Counter()}
    deps = deps_for(azurite.connection_string, emulator.url, counts)
    assert azurite.process is not None
    pids = {"python": os.getpid(), "azurite": azurite.process.pid, "emulator": emulator.pid}
    before: dict[str, Counter[str]] = {k: Counter() for k in counts}
    cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
    rows: list[tuple[str, float, dict[str, Counter[str]], dict[str, float]]] = []

    def done(name: str, seconds: float) -> None:
        now = {name: cpu_seconds(pid) for name, pid in pids.items()}
        used = {k: now[k] - cpu[k] for k in now}
        rows.append((name, seconds, {k: v - before[k] for k, v in counts.items()}, used))
        before.update({k: Counter(v) for k, v in counts.items()})
        cpu.update(now)

    run_phases(deps, emulator, batches, done)
    print(f"\n{batches:,} batches, {threads} part(s) at a time")
    print(
        f"  {'phase':11} {'wall s':>7} {'table writes':>13} {'rows written':>13} "
        f"{'table reads':>12} {'service calls':>14} {'cpu: python':>12} {'azurite':>8} "
        f"{'emulator':>9}"
    )
    for name, seconds, used, spent in rows:
        table, service = used["table"], used["service"]
        writes = sum(table[w] for w in WRITES)
        reads = sum(table[r] for r in READS)
        print(
            f"  {name:11} {seconds:7.2f} {writes:13,} {table['rows written']:13,} "
            f"{reads:12,} {sum(service.values()):14,} {spent['python']:12.2f} "
            f"{spent['azurite']:8.2f} {spent['emulator']:9.2f}"
        )
    print(f"  {'in all':11} {sum(row[1] for row in rows):7.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--threads", default="1,8", help="parts a step works on at once")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per service call")
    args = parser.parse_args(argv)
    print(__doc__.split("\n\n")[0])
    emulator = RemoteEmulator.start(args.latency)
    try:
        with Azurite() as azurite:
            for threads in (int(t) for t in args.threads.split(",")):
                measure(azurite, emulator, args.batches, threads)
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
