"""One chaos run: two host processes against one Azurite and one emulator with every fault on,
the workload played on time (uploads, overwrites, deletes, cancels, a host killed and started
again), then faults off until everything settles; what it left is gathered for the checks."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from shared.config import Settings
from shared.jobs.model import TERMINAL, StopReason, job_id_for
from shared.jobs.store import TableJobStore
from shared.storage import clients
from tests.integration.chaos.checks import World
from tests.integration.chaos.hosts import HostProcess, app_settings, host_env
from tests.integration.chaos.rules import applied_by_kind, storm_rules
from tests.integration.chaos.watch import Watcher
from tests.integration.chaos.workload import SETTINGS, Action, Version, Workload, build


@dataclass(frozen=True)
class Plan:
    seed: int
    inputs: int = 30
    spread: float = 20.0  # seconds over which the inputs arrive
    tail: float = 8.0  # faults stay on this long after the last action
    kills: int = 1  # host processes killed (SIGKILL) and started again mid-run
    fault_scale: float = 1.0
    settle_timeout: float = 120.0
    bound: float = 150.0  # every job must end within this many seconds of its upload

    def tuned(self, changes: dict[str, float]) -> Plan:
        fields = {k: type(getattr(self, k))(v) for k, v in changes.items()}
        return replace(self, **fields)


@dataclass
class Tally:
    uploads: Counter[str] = field(default_factory=Counter)
    cancels: Counter[str] = field(default_factory=Counter)
    deletes: int = 0
    kills: int = 0


class ChaosRun:
    def __init__(self, plan: Plan, azurite: Any, emulator: Any, folder: Path) -> None:
        self.plan, self.emulator, self.folder = plan, emulator, folder
        self.env = app_settings(azurite, emulator.url)
        self.settings = Settings.from_env(self.env)
        clients.ensure_resources(self.settings)
        self.table = clients.table_client(self.settings.storage, self.settings.jobs_table)
        self.store = TableJobStore(self.table)
        self.blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
        self.work: Workload = build(plan.seed, plan.inputs, plan.spread)
        self.versions: dict[str, Version] = {}  # job id -> upload
        self.job_of: dict[tuple[str, str], str] = {}  # (name, tag) -> job id
        self.tally = Tally()
        self.hosts = [HostProcess(n, host_env(self.env, n, folder), folder) for n in "AB"]
        self.watcher = Watcher(self.table)
        self.figures: dict[str, Any] = {}

    # ----- the run ---------------------------------------------------------------------------

    def execute(self) -> World:
        started = time.monotonic()
        self._upload_settings()
        for host in self.hosts:
            host.start()
        for host in self.hosts:
            host.wait_ready()
        self.emulator.set_faults(storm_rules(self.plan.fault_scale), seed=self.plan.seed)
        self.watcher.thread.start()
        try:
            storm = self._storm()
            faults = self.emulator.faults()
            self.emulator.clear_faults()
            settle = self._settle()
        finally:
            for host in self.hosts:
                host.stop()
            self.watcher.stopped.set()
        self._figures(faults, storm, settle, time.monotonic() - started)
        return self.gather()

    def _upload_settings(self) -> None:
        container = self.blobs.get_container_client(self.settings.input_container)
        for name, doc in SETTINGS.items():
            container.upload_blob(name, json.dumps(doc).encode(), overwrite=True)

    def _storm(self) -> float:
        start = time.monotonic()
        pending = list(self.work.actions)
        kills = self._kill_times(random.Random(self.plan.seed + 1))
        while pending or kills:
            now = time.monotonic() - start
            if kills and kills[0][0] <= now:
                self._kill(kills.pop(0)[1])
            due = [a for a in pending if a.at <= now]
            for action in due:
                pending.remove(action)
                retry = self._act(action)
                if retry is not None:
                    pending.append(retry)
            time.sleep(0.05)
        end = start + (self.work.actions[-1].at if self.work.actions else 0) + self.plan.tail
        time.sleep(max(0.0, end - time.monotonic()))
        return time.monotonic() - start

    def _kill_times(self, rng: random.Random) -> list[tuple[float, int]]:
        times = sorted(rng.uniform(0.2, 0.8) * self.plan.spread for _ in range(self.plan.kills))
        return [(t, rng.randrange(len(self.hosts))) for t in times]

    def _kill(self, index: int) -> None:
        """SIGKILL one host and start it again; a host still starting is not killed twice."""
        host = self.hosts[index]
        if not host.ready.is_set():
            host = self.hosts[1 - index]
        host.kill()
        self.tally.kills += 1
        host.start()
        threading.Thread(target=host.wait_ready, daemon=True).start()

    def _act(self, action: Action) -> Action | None:
        if action.verb == "upload":
            self._upload(action)
        elif action.verb == "delete":
            self._delete(action.name)
        else:
            return self._cancel(action)
        return None

    def _upload(self, action: Action) -> None:
        version = action.version
        assert version is not None
        client = self.blobs.get_blob_client(self.settings.input_container, action.name)
        etag = str(client.upload_blob(version.data, overwrite=True)["etag"])
        job_id = job_id_for(self.settings.input_container, action.name, etag)
        self.versions[job_id] = version
        self.job_of[(version.name, version.tag)] = job_id
        self.tally.uploads[version.kind] += 1

    def _delete(self, name: str) -> None:
        try:
            self.blobs.get_blob_client(self.settings.input_container, name).delete_blob()
            self.tally.deletes += 1
        except ResourceNotFoundError:
            pass

    def _cancel(self, action: Action) -> Action | None:
        assert action.version is not None
        job_id = self.job_of.get((action.version.name, action.version.tag), "")
        if self.store.get(job_id) is None:
            if action.tries < 40:  # not recorded yet: a person would try again shortly
                return replace(action, at=action.at + 0.5, tries=action.tries + 1)
            self.tally.cancels["never recorded"] += 1
            return None
        if action.verb == "cancel_http":
            ready = [h for h in self.hosts if h.ready.is_set()]
            answer = random.Random(job_id).choice(ready).cancel(job_id) if ready else 0
            if answer == 0 and action.tries < 40:  # no host up just now: ask again shortly
                return replace(action, at=action.at + 0.5, tries=action.tries + 1)
            self.tally.cancels[f"http {answer}"] += 1
        else:
            asked = self.store.request_stop(
                job_id, StopReason.CANCEL, "Cancelled by the chaos run."
            )
            self.tally.cancels["store " + ("asked" if asked else "already asked")] += 1
        return None

    def _settle(self) -> float:
        """Faults off; wait until every job has ended and been cleaned up, twice in a row."""
        start, calm = time.monotonic(), 0
        while time.monotonic() - start < self.plan.settle_timeout and calm < 2:
            calm = calm + 1 if self._settled() else 0
            time.sleep(1.0)
        return time.monotonic() - start

    def _settled(self) -> bool:
        seen = self.watcher.sample()
        current = self._current()
        recorded = all(
            job_id_for(self.settings.input_container, n, e) in seen for n, e in current.items()
        )
        ended = all(status in TERMINAL and cleaned for status, cleaned in seen.values())
        return bool(seen) and recorded and ended

    # ----- what it left ----------------------------------------------------------------------

    def _current(self) -> dict[str, str]:
        container = self.blobs.get_container_client(self.settings.input_container)
        return {
            b.name: str(b.etag)
            for b in container.list_blobs()
            if not b.name.rsplit("/", 1)[-1].startswith("_")
        }

    def _outputs(self) -> dict[str, dict[str, bytes]]:
        container = self.blobs.get_container_client(self.settings.output_container)
        folders: dict[str, dict[str, bytes]] = {}
        for blob in container.list_blobs():
            folder, _, name = blob.name.rpartition("/")
            folders.setdefault(folder, {})[name] = container.download_blob(blob.name).readall()
        return folders

    def _texts(self) -> dict[str, str]:
        texts = {str(p.name): p.read_text(errors="replace") for h in self.hosts for p in h.logs}
        for path in self.folder.glob("telemetry-*.jsonl"):
            texts[path.name] = path.read_text(errors="replace")
        rows = self.table.query_entities("PartitionKey ne ''")
        texts["job table"] = "\n".join(json.dumps(dict(r), default=str) for r in rows)
        return texts

    def _reported(self) -> list[tuple[str, str, str]]:
        """Every JobStateChanged event the hosts wrote to their telemetry files."""
        found = []
        for path in self.folder.glob("telemetry-*.jsonl"):
            for line in path.read_text(errors="replace").splitlines():
                row = json.loads(line) if line.startswith("{") else {}
                if row.get("name") == "JobStateChanged":
                    a = row["attributes"]
                    found.append((a["job_id"], a.get("previous_status") or "", a["status"]))
        return found

    def gather(self) -> World:
        state = self.emulator.state()
        return World(
            container=self.settings.input_container,
            jobs={j.job_id: j for j in self.store.all_jobs()},
            current=self._current(),
            outputs=self._outputs(),
            batches=state["batches"],
            files=state["files"],
            versions=self.versions,
            texts=self._texts(),
            transitions=list(self.watcher.transitions),
            reported=self._reported(),
            bound=self.plan.bound,
        )

    def _figures(
        self, faults: list[dict[str, Any]], storm: float, settle: float, total: float
    ) -> None:
        jobs = list(self.store.all_jobs())
        batches = self.emulator.batches()
        self.figures = {
            "seed": self.plan.seed,
            "uploads by kind": dict(self.tally.uploads),
            "input names": len({v.name for v in self.versions.values()}),
            "events": {
                **self.work.roles,
                "deletes done": self.tally.deletes,
                "host kills": self.tally.kills,
            },
            "cancels": dict(self.tally.cancels),
            "faults applied": applied_by_kind(faults),
            "faults applied in all": sum(int(r.get("applied", 0)) for r in faults),
            "jobs by final state": dict(Counter(j.status.value for j in jobs)),
            "batches at the service": len(batches),
            "slowest jobs": _slowest(jobs),
            "longest job (s)": round(
                max(((j.updated_at - j.created_at).total_seconds() for j in jobs), default=0), 1
            ),
            "seconds": {
                "storm": round(storm, 1),
                "settle": round(settle, 1),
                "total": round(total, 1),
            },
            "state samples with a change": len(self.watcher.transitions),
            "state changes reported": len(self._reported()),
        }


def _slowest(jobs: list[Any], count: int = 3) -> list[str]:
    """The jobs that took longest, to look up in the host logs by id."""
    ranked = sorted(jobs, key=lambda j: j.updated_at - j.created_at, reverse=True)[:count]
    took = [(j, (j.updated_at - j.created_at).total_seconds()) for j in ranked]
    return [f"{j.job_id} {j.name} {j.status.value} {s:.0f} s" for j, s in took]
