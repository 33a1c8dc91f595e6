"""A small world for the lifecycle's stateful tests: a batch service that runs batches when
told (with lost answers, quota refusals, unusable uploads and cancels), an input container
with blob versions, a job table that reports every state change, and two workers sharing
them. Built on the Protocol fakes in tests/fakes.py."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

from shared.batches.service import QuotaExceeded, RemoteBatch, RemoteFile
from shared.config import Settings
from shared.deps import Deps
from shared.jobs.model import ALLOWED
from shared.jobs.store import TableJobStore
from tests.fakes import FakeBlobService, FakeContainer, FakeQueue, FakeTable, _Download

LIVE = frozenset({"validating", "in_progress", "cancelling"})
INPUT = "in"


class LostAnswer(Exception):
    """The call's answer never came back (a timeout): it may or may not have taken effect."""


# ----- the batch service ---------------------------------------------------------------------


@dataclass
class SimFile:
    id: str
    filename: str
    content: bytes
    status: str = "processed"
    batch_id: str | None = None  # set on a batch's output and error files


@dataclass
class SimBatch:
    id: str
    input_file_id: str
    metadata: dict[str, str]
    status: str = "validating"
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: tuple[dict[str, Any], ...] = ()
    cancel_asked: bool = False
    ended_at: int | None = None

    @property
    def live(self) -> bool:
        return self.status in LIVE

    def remote(self) -> RemoteBatch:
        return RemoteBatch(
            self.id,
            self.status,
            output_file_id=self.output_file_id,
            error_file_id=self.error_file_id,
            errors=self.errors,
            ended_at=self.ended_at,
            metadata=tuple(sorted(self.metadata.items())),
        )


@dataclass
class SimService:
    """The service's state; workers reach it through a `ServiceView` each."""

    files: dict[str, SimFile] = field(default_factory=dict)
    deleted: dict[str, SimFile] = field(default_factory=dict)
    batches: dict[str, SimBatch] = field(default_factory=dict)
    # One-shot faults, each used by the next call it fits: "lose_upload", "lose_create",
    # "quota", "unusable_upload".
    faults: list[str] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def take(self, fault: str) -> bool:
        if fault in self.faults:
            self.faults.remove(fault)
            return True
        return False

    def new_file(self, filename: str, content: bytes, batch_id: str | None = None) -> SimFile:
        file = SimFile(f"file-{next(self.ids)}", filename, content, batch_id=batch_id)
        self.files[file.id] = file
        return file

    # ----- moving batches on, as the service would -----------------------------------------

    def step(self, batch: SimBatch, how: str) -> None:
        """One move of a live batch: validating -> in_progress (or refused for quota),
        in_progress -> completed / expired, a cancel asked -> cancelled."""
        if batch.cancel_asked:
            self._end(batch, "cancelled", half=True)
        elif batch.status == "validating":
            if how == "quota":
                batch.status, batch.ended_at = "failed", int(time.time())
                batch.errors = ({"code": "token_limit_exceeded", "message": "quota"},)
            else:
                batch.status = "in_progress"
        elif batch.status == "in_progress":
            self._end(
                batch, "expired" if how == "expire" else "completed", line_errors=how == "errors"
            )

    def _end(
        self, batch: SimBatch, status: str, half: bool = False, line_errors: bool = False
    ) -> None:
        ids = [orjson.loads(x)["custom_id"] for x in self._input(batch).splitlines() if x.strip()]
        done = ids[: len(ids) // 2] if half or status == "expired" else ids
        failing = set(done[:1]) if line_errors else set()
        answers = [answer(c) for c in done if c not in failing]
        errors = [failure(c) for c in failing]
        if status == "expired":
            errors += [expired(c) for c in ids[len(done) :]]
        batch.status, batch.ended_at = status, int(time.time())
        if answers:
            batch.output_file_id = self.new_file("out.jsonl", _lines(answers), batch.id).id
        batch.error_file_id = self.new_file("err.jsonl", _lines(errors), batch.id).id

    def _input(self, batch: SimBatch) -> bytes:
        file = self.files.get(batch.input_file_id) or self.deleted.get(batch.input_file_id)
        return file.content if file else b""

    def finish_all(self) -> None:
        """Every live batch runs to its end (the quiet after a storm)."""
        for batch in list(self.batches.values()):
            while batch.live:
                self.step(batch, "complete")

    def live_per_part(self) -> dict[tuple[str, str], list[str]]:
        found: dict[tuple[str, str], list[str]] = {}
        for b in self.batches.values():
            if b.live:
                key = (b.metadata.get("batchdrop_job", ""), b.metadata.get("batchdrop_part", ""))
                found.setdefault(key, []).append(b.id)
        return found


def answer(custom_id: str) -> dict[str, Any]:
    body = {
        "choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    return {"custom_id": custom_id, "response": {"status_code": 200, "body": body}, "error": None}


def failure(custom_id: str) -> dict[str, Any]:
    body = {"error": {"code": "server_error", "message": "The server had an error."}}
    return {"custom_id": custom_id, "response": {"status_code": 500, "body": body}, "error": None}


def expired(custom_id: str) -> dict[str, Any]:
    error = {"code": "batch_expired", "message": "This request could not be executed."}
    return {"custom_id": custom_id, "response": None, "error": error}


def _lines(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


class ServiceView:
    """One worker's BatchService over the shared SimService. `stall` makes its next side
    effect slow: the call may take effect, then time passes (every lease lapses) and the
    other worker runs, and this worker's call ends in a timeout."""

    def __init__(self, sim: SimService) -> None:
        self.sim = sim
        self.stall: tuple[bool, Callable[[], None]] | None = None

    def _after(self, effect: Callable[[], Any]) -> Any:
        if self.stall is None:
            return effect()
        commits, meanwhile = self.stall
        self.stall = None
        if commits:
            effect()
        meanwhile()
        raise LostAnswer("the call timed out while another worker took the job over")

    def upload(self, filename: str, path: Path) -> RemoteFile:
        def effect() -> SimFile:
            file = self.sim.new_file(filename, path.read_bytes())
            if self.sim.take("unusable_upload"):
                file.status = "error"
            return file

        file = self._after(effect)
        if self.sim.take("lose_upload"):
            raise LostAnswer("upload answer lost")
        return RemoteFile(file.id, "pending", filename)

    def find_file(self, filename: str) -> RemoteFile | None:
        found = [f for f in self.sim.files.values() if f.filename == filename]
        return RemoteFile(found[-1].id, found[-1].status, filename) if found else None

    def get_file(self, file_id: str) -> RemoteFile | None:
        file = self.sim.files.get(file_id)
        return RemoteFile(file.id, file.status, file.filename) if file else None

    def create_batch(self, file_id: str, endpoint: str, metadata: dict[str, str]) -> RemoteBatch:
        if self.sim.take("quota"):
            raise QuotaExceeded("token_limit_exceeded")

        def effect() -> SimBatch:
            batch = SimBatch(f"batch-{next(self.sim.ids)}", file_id, dict(metadata))
            self.sim.batches[batch.id] = batch
            return batch

        batch = self._after(effect)
        if self.sim.take("lose_create"):
            raise LostAnswer("create answer lost")
        return batch.remote()

    def find_batch(self, metadata: dict[str, str]) -> RemoteBatch | None:
        wanted = set(metadata.items())
        found = [b for b in self.sim.batches.values() if wanted <= set(b.metadata.items())]
        return found[-1].remote() if found else None

    def get_batch(self, batch_id: str) -> RemoteBatch | None:
        batch = self.sim.batches.get(batch_id)
        return batch.remote() if batch else None

    def cancel_batch(self, batch_id: str) -> None:
        def effect() -> None:
            batch = self.sim.batches.get(batch_id)
            if batch is not None and batch.live:
                batch.cancel_asked, batch.status = True, "cancelling"

        self._after(effect)

    def download(self, file_id: str, dest: Path) -> None:
        file = self.sim.files.get(file_id)
        if file is None:
            raise ResourceNotFoundError(f"file {file_id} is gone")
        dest.write_bytes(file.content)

    def delete_file(self, file_id: str) -> None:
        def effect() -> None:
            file = self.sim.files.pop(file_id, None)
            if file is not None:
                self.sim.deleted[file_id] = file

        self._after(effect)


# ----- storage -------------------------------------------------------------------------------


class InputContainer(FakeContainer):
    """The input container: every upload a new version (ETag, write time to the second, as
    Blob Storage reports it)."""

    def __init__(self) -> None:
        super().__init__()
        self.etags: dict[str, str] = {}
        self.counter = itertools.count(1)
        self.clock = datetime(2026, 1, 1, tzinfo=UTC)

    def upload_blob(self, name: str, data: Any, **_options: object) -> None:
        super().upload_blob(name, data)
        self.etags[name] = f'"0x{next(self.counter):04d}"'
        self.stamps[name] = self.clock

    def tick(self, seconds: float) -> None:
        self.clock += timedelta(seconds=seconds)

    def delete_blob(self, name: str, **_options: object) -> None:
        super().delete_blob(name)
        self.etags.pop(name, None)

    def list_blobs(self, name_starts_with: str = "") -> Iterator[Any]:
        for name in sorted(self.blobs):
            if name.startswith(name_starts_with):
                yield self.properties(name)

    def properties(self, name: str) -> SimpleNamespace:
        if name not in self.blobs:
            raise ResourceNotFoundError(f"no blob {name}")
        stamp = self.stamps[name]
        return SimpleNamespace(
            name=name, etag=self.etags[name], last_modified=stamp, size=len(self.blobs[name])
        )

    def get_blob_client(self, name: str) -> InputBlob:  # type: ignore[override]
        return InputBlob(self, name)


class InputBlob:
    def __init__(self, container: InputContainer, name: str) -> None:
        self.container, self.name = container, name

    def get_blob_properties(self) -> SimpleNamespace:
        return self.container.properties(self.name)

    def exists(self) -> bool:
        return self.name in self.container.blobs

    def download_blob(self, etag: str | None = None, **_options: object) -> _Download:
        props = self.container.properties(self.name)
        if etag is not None and etag != props.etag:
            raise ResourceModifiedError("the blob changed")
        download = _Download(self.container.blobs[self.name])
        download.properties = props  # type: ignore[attr-defined]
        return download


class OutputContainer(FakeContainer):
    """The output container, remembering every summary.json each job wrote for each of its
    rounds (I4: completing the same round again writes the same bytes; a retry a person asked
    for is a new round)."""

    def __init__(self) -> None:
        super().__init__()
        self.summaries: dict[tuple[str, int], set[bytes]] = {}

    def upload_blob(self, name: str, data: Any, **options: object) -> None:
        super().upload_blob(name, data, **options)
        if name.endswith("/summary.json"):
            written = self.blobs[name]
            doc = orjson.loads(written)
            key = (doc["job_id"], len(doc.get("batches") or ()))
            self.summaries.setdefault(key, set()).add(written)


class SimBlobService(FakeBlobService):
    def __init__(self) -> None:
        super().__init__()
        self.containers[INPUT] = InputContainer()
        self.containers["out"] = OutputContainer()

    @property
    def inputs(self) -> InputContainer:
        return self.containers[INPUT]  # type: ignore[return-value]

    def get_blob_client(self, container: str, name: str) -> Any:
        return self.get_container_client(container).get_blob_client(name)


# ----- the job table -------------------------------------------------------------------------


class WatchedTable(FakeTable):
    """The in-memory table, noting every state change written to a job row, and any that
    ALLOWED does not list (I5)."""

    def __init__(self) -> None:
        super().__init__()
        self.changes: list[tuple[str, str, str]] = []
        self.illegal: list[tuple[str, str, str]] = []

    def submit_transaction(self, operations: list[Any], **kw: Any) -> list[dict[str, Any]]:
        before = {key: self.rows.get(key) for key in map(_key, operations)}
        result = super().submit_transaction(operations, **kw)
        for key, old in before.items():
            if key[1] == "job" and old is not None:
                self._note(key[0], old[0].get("Status"), self.rows[key][0].get("Status"))
        return result

    def _note(self, job_id: str, old: str, new: str) -> None:
        if old == new:
            return
        self.changes.append((job_id, old, new))
        if new not in {s.value for s in ALLOWED.get(old, frozenset())}:  # type: ignore[call-overload]
            self.illegal.append((job_id, old, new))

    def lapse_leases(self) -> None:
        """Time passes: every lease runs out. The rows keep their ETags (nobody wrote)."""
        past = datetime(2000, 1, 1, tzinfo=UTC)
        with self.lock:
            for key, (entity, etag) in list(self.rows.items()):
                if key[1] == "lease" and entity.get("Until"):
                    self.rows[key] = ({**entity, "Until": past}, etag)


def _key(op: Any) -> tuple[str, str]:
    return (op[1]["PartitionKey"], op[1]["RowKey"])


# ----- two workers ---------------------------------------------------------------------------

SETTINGS = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9",
    "AZURE_OPENAI_DEPLOYMENT": "dep",
    "BATCH_INPUT_CONTAINER": INPUT,
    "BATCH_OUTPUT_CONTAINER": "out",
    "BATCH_WORK_CONTAINER": "work",
    "BATCH_FILE_WAIT_SECONDS": "0",
    "BATCH_STATUS_MIN_SECONDS": "0",
    "BATCH_QUOTA_BACKOFF_SECONDS": "0.001",
    "BATCH_SETTLE_SECONDS": "0",
    "BATCH_LEASE_SECONDS": "60",
    "BATCH_CLOCK_SKEW_SECONDS": "0",
    "BATCH_MAX_REQUESTS": "2",
}


@dataclass
class World:
    table: WatchedTable
    sim: SimService
    blobs: SimBlobService
    queue: FakeQueue
    workers: tuple[Deps, Deps]

    @classmethod
    def new(cls) -> World:
        table, sim, blobs, queue = WatchedTable(), SimService(), SimBlobService(), FakeQueue()
        settings = Settings.from_env(SETTINGS)

        def worker() -> Deps:
            store = TableJobStore(table)
            return Deps(settings, store, ServiceView(sim), blobs, queue)  # type: ignore[arg-type]

        return cls(table, sim, blobs, queue, (worker(), worker()))

    @property
    def store(self) -> TableJobStore:
        return self.workers[0].store  # type: ignore[return-value]
