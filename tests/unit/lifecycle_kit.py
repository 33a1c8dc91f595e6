"""A small world for the lifecycle's stateful tests: the batch service (tests/unit/
sim_service.py), an input container with blob versions, an output container that remembers
every summary, a job table that reports every state change, and two workers sharing them.
Built on the Protocol fakes in tests/fakes.py."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

from shared.config import Settings
from shared.deps import Deps
from shared.jobs.model import ALLOWED, job_id_for
from shared.jobs.store import TableJobStore
from shared.storage.names import RESULTS, SUMMARY, output_prefix
from shared.storage.ownership import MARKER
from tests.fakes import FakeBlobService, FakeContainer, FakeQueue, FakeTable, _Download
from tests.unit.sim_service import ServiceView, SimService

INPUT = "in"


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
        """Time passes: every lease runs out, and a create or upload whose answer was lost has
        had its time to land. The rows keep their ETags (nobody wrote)."""
        past = datetime(2000, 1, 1, tzinfo=UTC)
        with self.lock:
            for key, (entity, etag) in list(self.rows.items()):
                if key[1] == "lease" and entity.get("Until"):
                    self.rows[key] = ({**entity, "Until": past}, etag)
                aged = {k: 1 for k in ("creating_at", "uploading_at") if entity.get(k)}
                if aged:
                    self.rows[key] = ({**entity, **aged}, etag)


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


# ----- what an upload is, and what must hold once everything settled -----------------------


@dataclass(frozen=True)
class Upload:
    name: str
    etag: str
    modified: Any
    ids: tuple[str, ...]  # () when the content is rejected
    data: bytes


def content(tag: str, size: int, mixed: bool, bad: bool) -> tuple[bytes, tuple[str, ...]]:
    ids = tuple(f"{tag}-{i}" for i in range(size))
    lines = [
        {
            "custom_id": cid,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": "dep2" if mixed and i % 2 else "dep",
                "messages": [{"role": "user", "content": "hi"}],
            },
        }
        for i, cid in enumerate(ids)
    ]
    data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    return (data + b"{not json\n", ()) if bad else (data, ids)


def folders_hold_one_job_each(world: World, uploads: list[Upload]) -> None:
    """Every folder with files has the summary of a job for that folder's input, and
    results (when there are any) of that very upload."""
    by_job = {job_id_for(INPUT, u.name, u.etag): u for u in uploads}
    folders: dict[str, dict[str, bytes]] = {}
    for name, data in world.blobs.get_container_client("out").blobs.items():
        folder, _, file = name.rpartition("/")
        folders.setdefault(folder, {})[file] = data
    for folder, files in folders.items():
        if set(files) <= {MARKER}:
            continue
        summary = orjson.loads(files[SUMMARY])
        upload = by_job[summary["job_id"]]
        assert output_prefix(upload.name) == folder
        if RESULTS in files and summary["status"] not in ("skipped", "rejected"):
            ids = [orjson.loads(x)["custom_id"] for x in files[RESULTS].splitlines()]
            assert ids == list(upload.ids), (folder, summary["status"])


def newest_versions_own_their_folders(
    world: World, uploads: list[Upload], names: tuple[str, ...]
) -> None:
    """The input's current version has its job, and its summary and results are the folder's."""
    output = world.blobs.get_container_client("out")
    for name in names:
        if name not in world.blobs.inputs.blobs:
            continue
        etag = world.blobs.inputs.etags[name]
        newest = world.store.get(job_id_for(INPUT, name, etag))
        assert newest is not None, name
        summary = orjson.loads(output.blobs[f"{output_prefix(name)}/{SUMMARY}"])
        assert (summary["job_id"], summary["status"]) == (newest.job_id, newest.status.value)
        upload = next(u for u in uploads if (u.name, u.etag) == (name, etag))
        results = output.blobs.get(f"{output_prefix(name)}/{RESULTS}")
        if results is not None and summary["status"] not in ("skipped", "rejected"):
            ids = [orjson.loads(x)["custom_id"] for x in results.splitlines()]
            assert ids == list(upload.ids)
