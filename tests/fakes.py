"""Hand-written fakes for fast unit tests: the two Protocol seams (JobStore, BatchService), and
the few queue and container calls the app makes, in memory."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableTransactionError

from shared.batches.service import RemoteBatch, RemoteFile
from shared.config import Settings
from shared.deps import Deps
from shared.jobs.store import TableJobStore


class Row(dict):
    """A table entity as the SDK returns it: a dict with its ETag in .metadata."""

    metadata: dict[str, Any]


class FakeTable:
    """The Table seam of shared.jobs.store in memory: ETags, conditional updates, create-if-
    absent, and all-or-nothing transactions, as Table Storage does them."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
        self.etags = itertools.count(1)
        self.lock = threading.Lock()

    def get_entity(self, partition_key: str, row_key: str, **_kw: Any) -> Row:
        with self.lock:
            if (partition_key, row_key) not in self.rows:
                raise ResourceNotFoundError("no such entity")
            return self._row(partition_key, row_key)

    def query_entities(self, query_filter: str, parameters: dict | None = None, **_kw: Any):
        match = odata_filter(query_filter)
        with self.lock:
            keys = sorted(k for k in self.rows if match(self.rows[k][0], parameters or {}))
            return [self._row(*k) for k in keys]

    def create_entity(self, entity: dict[str, Any], **_kw: Any) -> dict[str, Any]:
        try:
            return self.submit_transaction([("create", entity)])[0]
        except TableTransactionError as exc:
            raise ResourceExistsError(str(exc)) from None

    def upsert_entity(self, entity: dict[str, Any], mode: Any = None, **_kw: Any):
        return self.submit_transaction([("upsert", entity, {"mode": mode})])[0]

    def update_entity(self, entity: dict[str, Any], mode: Any = None, **kw: Any):
        try:
            return self.submit_transaction([("update", entity, {"mode": mode, **kw})])[0]
        except TableTransactionError as exc:
            error = ResourceNotFoundError if exc.status_code == 404 else ResourceModifiedError
            raise error(str(exc)) from None

    def delete_entity(self, partition_key: str, row_key: str, **_kw: Any) -> None:
        with self.lock:
            self.rows.pop((partition_key, row_key), None)

    def submit_transaction(self, operations: list[Any], **_kw: Any) -> list[dict[str, Any]]:
        with self.lock:
            staged = dict(self.rows)
            results = []
            for index, op in enumerate(operations):
                kind, entity = op[0], dict(op[1])
                options = op[2] if len(op) > 2 else {}
                key = (entity["PartitionKey"], entity["RowKey"])
                self._check(staged, index, kind, key, options)
                if kind == "delete":
                    del staged[key]
                    results.append({})
                    continue
                old = staged.get(key, ({}, ""))[0]
                merge = str(options.get("mode") or "merge").lower().endswith("merge")
                new = {**old, **entity} if merge and kind != "create" else entity
                etag = f"W/etag-{next(self.etags)}"
                staged[key] = (new, etag)
                results.append({"etag": etag})
            self.rows = staged
            return results

    @staticmethod
    def _check(staged, index: int, kind: str, key: tuple[str, str], options: dict) -> None:
        def fail(status: int, code: str) -> None:
            error = TableTransactionError(message=f"{index}:{code}")
            error.status_code = status
            raise error

        if kind == "create" and key in staged:
            fail(409, "EntityAlreadyExists")
        if kind in ("update", "delete"):
            if key not in staged:
                fail(404, "ResourceNotFound")
            if options.get("etag") and staged[key][1] != options["etag"]:
                fail(412, "UpdateConditionNotSatisfied")

    def _row(self, partition_key: str, row_key: str) -> Row:
        entity, etag = self.rows[(partition_key, row_key)]
        row = Row(entity)
        row.metadata = {"etag": etag}
        return row


Match = Callable[[dict[str, Any], dict[str, Any]], bool]
COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


def odata_filter(query: str) -> Match:
    """The subset of OData filters the store writes: `Name op @param` comparisons joined by
    `and` / `or`, with parentheses. As in Table Storage, a missing property matches nothing."""
    tokens = query.replace("(", " ( ").replace(")", " ) ").split()
    match, end = _either(tokens, 0)
    assert end == len(tokens), f"unparsed filter: {query!r}"
    return match


def _either(tokens: list[str], at: int) -> tuple[Match, int]:
    left, at = _both(tokens, at)
    while at < len(tokens) and tokens[at] == "or":
        right, at = _both(tokens, at + 1)
        left = (lambda a, b: lambda row, p: a(row, p) or b(row, p))(left, right)
    return left, at


def _both(tokens: list[str], at: int) -> tuple[Match, int]:
    left, at = _term(tokens, at)
    while at < len(tokens) and tokens[at] == "and":
        right, at = _term(tokens, at + 1)
        left = (lambda a, b: lambda row, p: a(row, p) and b(row, p))(left, right)
    return left, at


def _term(tokens: list[str], at: int) -> tuple[Match, int]:
    if tokens[at] == "(":
        inner, at = _either(tokens, at + 1)
        assert tokens[at] == ")", tokens
        return inner, at + 1
    name, op, param = tokens[at : at + 3]
    assert param.startswith("@"), f"values are parameters here: {tokens}"
    compare = COMPARE[op]

    def match(row: dict[str, Any], params: dict[str, Any]) -> bool:
        return name in row and compare(row[name], params[param[1:]])

    return match, at + 3


def FakeStore() -> TableJobStore:  # noqa: N802 - used like a class
    """The real store over the in-memory table."""
    return TableJobStore(FakeTable())


@dataclass
class FakeService:
    """BatchService whose answers a test scripts; it records every call."""

    file_statuses: list[str] = field(default_factory=lambda: ["processed"])
    create_errors: list[BaseException] = field(default_factory=list)
    batches: dict[str, RemoteBatch] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def upload(self, filename: str, path: Path) -> RemoteFile:
        self.calls.append(("upload", filename))
        return RemoteFile(f"file-{next(self.counter)}", "pending", filename)

    def find_file(self, filename: str) -> RemoteFile | None:
        self.calls.append(("find_file", filename))
        return None

    def get_file(self, file_id: str) -> RemoteFile | None:
        status = self.file_statuses.pop(0) if len(self.file_statuses) > 1 else self.file_statuses[0]
        return RemoteFile(file_id, status)

    def create_batch(self, file_id: str, endpoint: str, metadata: dict[str, str]) -> RemoteBatch:
        self.calls.append(("create_batch", file_id))
        if self.create_errors:
            error = self.create_errors.pop(0)
            if not isinstance(error, _Commit):
                raise error
            self._add(metadata)  # the service commits, then the answer is lost
            raise error.error
        return self._add(metadata)

    def _add(self, metadata: dict[str, str]) -> RemoteBatch:
        batch = RemoteBatch(
            f"batch-{next(self.counter)}", "validating", metadata=tuple(sorted(metadata.items()))
        )
        self.batches[batch.id] = batch
        return batch

    def find_batch(self, metadata: dict[str, str], since: int | None = None) -> RemoteBatch | None:
        self.calls.append(("find_batch", ""))
        wanted = set(metadata.items())
        return next((b for b in self.batches.values() if wanted <= set(b.metadata)), None)

    def get_batch(self, batch_id: str) -> RemoteBatch | None:
        return self.batches.get(batch_id)

    def cancel_batch(self, batch_id: str) -> None:
        self.calls.append(("cancel_batch", batch_id))

    def download(self, file_id: str, dest: Path) -> None:
        dest.write_bytes(b"")

    def delete_file(self, file_id: str) -> None:
        self.deleted.append(file_id)


@dataclass
class _Commit(BaseException):
    error: BaseException


def committed_then(error: BaseException) -> BaseException:
    """A create the service commits before the answer is lost with `error`."""
    return _Commit(error)


class FakeQueue:
    """The completion queue: remembers what was sent."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_message(self, content: str) -> None:
        self.sent.append(content)


@dataclass
class _Blob:
    name: str
    etag: str
    last_modified: datetime
    size: int


class _Download:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def readall(self) -> bytes:
        return self.data

    def readinto(self, stream: BinaryIO) -> int:
        return stream.write(self.data)

    def chunks(self) -> Iterator[bytes]:
        yield self.data


class FakeContainer:
    """The few container calls the app makes (storage.blobs, the sweep), in memory."""

    def __init__(self, name: str = "") -> None:
        self.container_name = name
        self.blobs: dict[str, bytes] = {}
        self.stamps: dict[str, datetime] = {}
        self.fail_downloads = False
        self.leased: set[str] = set()

    def get_blob_client(self, name: str) -> _FakeBlob:
        return _FakeBlob(self, name)

    def upload_blob(self, name: str, data: bytes | BinaryIO, **_options: object) -> None:
        self.blobs[name] = data if isinstance(data, bytes) else data.read()
        self.stamps[name] = datetime.now(UTC)

    def download_blob(self, name: str, **_options: object) -> _Download:
        if self.fail_downloads:
            raise OSError("storage is down")
        if name not in self.blobs:
            raise ResourceNotFoundError(f"no blob {name}")
        return _Download(self.blobs[name])

    def list_blobs(self, name_starts_with: str = "") -> Iterator[_Blob]:
        for name, data in sorted(self.blobs.items()):
            if name.startswith(name_starts_with):
                etag = f"etag-{hash(data) & 0xFFFF}"
                yield _Blob(name, etag, self.stamps[name], len(data))

    def delete_blob(self, name: str, **_options: object) -> None:
        self.blobs.pop(name, None)


class _FakeLease:
    def __init__(self, blob: _FakeBlob) -> None:
        self.blob = blob

    def renew(self) -> None:
        pass

    def release(self) -> None:
        self.blob.container.leased.discard(self.blob.name)


class _FakeBlob:
    """One blob of a FakeContainer: what ownership of an output folder needs."""

    def __init__(self, container: FakeContainer, name: str) -> None:
        self.container, self.name = container, name

    def upload_blob(self, data: bytes, overwrite: bool = True, **_options: object) -> None:
        if not overwrite and self.name in self.container.blobs:
            raise ResourceExistsError(f"blob {self.name} exists")
        self.container.upload_blob(self.name, data)

    def download_blob(self, **_options: object) -> _Download:
        return self.container.download_blob(self.name)

    def get_blob_properties(self) -> _Blob:
        for blob in self.container.list_blobs(self.name):
            if blob.name == self.name:
                return blob
        raise ResourceNotFoundError(f"no blob {self.name}")

    def acquire_lease(self, **_options: object) -> _FakeLease:
        if self.name in self.container.leased:
            raise HttpResponseError("LeaseAlreadyPresent")
        self.container.leased.add(self.name)
        return _FakeLease(self)


class FakeBlobService:
    """Containers by name, as BlobServiceClient hands them out."""

    def __init__(self) -> None:
        self.containers: dict[str, FakeContainer] = {}

    def get_container_client(self, name: str) -> FakeContainer:
        return self.containers.setdefault(name, FakeContainer(name))

    def get_blob_client(self, container: str, name: str) -> _FakeBlob:
        return self.get_container_client(container).get_blob_client(name)


def make_deps(service: FakeService | None = None, **settings: str) -> Deps:
    """Deps of fakes only, with test-friendly settings (names as in the environment)."""
    env = {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:9",
        "BATCH_FILE_WAIT_SECONDS": "0",
        "BATCH_STATUS_MIN_SECONDS": "0",
        "BATCH_QUOTA_BACKOFF_SECONDS": "60",
        **settings,
    }
    return Deps(
        Settings.from_env(env),
        FakeStore(),
        service or FakeService(),
        FakeBlobService(),  # type: ignore[arg-type]
        FakeQueue(),  # type: ignore[arg-type]
    )
