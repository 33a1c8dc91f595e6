"""Hand-written fakes for fast unit tests: the two Protocol seams (JobStore, BatchService), and
the few queue and container calls the app makes, in memory."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from azure.core.exceptions import ResourceNotFoundError

from shared.batches.service import RemoteBatch, RemoteFile
from shared.config import Settings
from shared.deps import Deps
from shared.jobs.model import Job, renewed
from shared.jobs.store import Conflict


class FakeStore:
    """JobStore in memory, with the table's conditional-write rules."""

    def __init__(self) -> None:
        self.rows: dict[str, Job] = {}
        self.etags = itertools.count(1)

    def create(self, job: Job) -> Job | None:
        if job.job_id in self.rows:
            return None
        return self._put(job)

    def get(self, job_id: str) -> Job | None:
        job = self.rows.get(job_id)
        return replace(job, lease_seconds=0.0) if job else None

    def save(self, job: Job) -> Job:
        current = self.rows.get(job.job_id)
        if current is None or current.row_etag != job.row_etag:
            raise Conflict(job.job_id)
        return self._put(renewed(job))

    def _put(self, job: Job) -> Job:
        stored = replace(job, row_etag=f"etag-{next(self.etags)}")
        self.rows[job.job_id] = stored
        return stored

    def open_job_ids(self) -> Iterator[str]:
        yield from (j.job_id for j in self.rows.values() if j.is_open)

    def forget(self, job_id: str) -> None:
        pass

    def open_jobs(self) -> Iterator[Job]:
        yield from (j for j in self.rows.values() if j.is_open)

    def all_jobs(self) -> Iterator[Job]:
        yield from self.rows.values()


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

    def find_batch(self, metadata: dict[str, str]) -> RemoteBatch | None:
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

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.stamps: dict[str, datetime] = {}
        self.fail_downloads = False

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


class FakeBlobService:
    """Containers by name, as BlobServiceClient hands them out."""

    def __init__(self) -> None:
        self.containers: dict[str, FakeContainer] = {}

    def get_container_client(self, name: str) -> FakeContainer:
        return self.containers.setdefault(name, FakeContainer())


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
