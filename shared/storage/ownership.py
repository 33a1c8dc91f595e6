"""Who owns an output folder: the newest version of its input. A marker blob in the folder
names the version that last published there; publishing holds a lease on it, so two versions
never write the folder at once, and an older version never overwrites a newer one's files.

A publisher can stall (a paused VM) past its lease while another takes the folder: each write
therefore renews the lease first (a renewal fails once another took it) and writes only where
no blob is, so a request that lands late never replaces a file; a file already there is
replaced only by a publisher that renewed again after finding it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobClient, BlobLeaseClient, ContainerClient, ContentSettings

from shared.storage.blobs import CONTENT_TYPES, delete_quietly
from shared.storage.names import OUTPUT_FILES
from shared.waits import NotYet

MARKER = ".batchdrop-owner.json"
LEASE_SECONDS = 60  # renewed while publishing; a crashed publisher frees the folder this soon
# A folder leased by a publish that began less than this ago is waited for without counting
# failures; longer than any publish takes (a few files), so a lease held beyond it is a fault.
BUSY_LIMIT = timedelta(minutes=15)


class FolderBusy(Exception):
    """The folder's marker is leased, and not by a publish that began lately (a lease another
    tool holds, say): a failure of the step, counted like any other."""


class FolderInUse(FolderBusy, NotYet):
    """Another job is publishing into the folder right now (its marker written lately): the
    step is tried again shortly, not counted as a failure."""


class FolderLost(FolderBusy):
    """The folder's lease ran out while this job published and another job took it."""


class Hold:
    """The folder's lease while a job publishes there: every write goes through it."""

    def __init__(self, container: ContainerClient, folder: str, lease: BlobLeaseClient) -> None:
        self.container, self.folder, self.lease = container, folder, lease
        # The folder's files as this job found them, read under the lease: a delete removes
        # only what it saw, never a file another job wrote since.
        self.found = {n: _etag(container, f"{folder}/{n}") for n in OUTPUT_FILES}

    def check(self) -> None:
        """Renew the lease now; FolderLost if another job holds it (or held it since)."""
        try:
            self.lease.renew()
        except HttpResponseError as exc:
            raise FolderLost(f"{self.folder}: the lease ran out; another job publishes") from exc

    def write(self, name: str, path: Path) -> None:
        """Write one file of the folder, only where no blob is: the file as this job found it
        is deleted first. One there all the same was landed late by a stalled publisher, and
        is replaced after a second renewal. A file written while this job lost the folder
        (the renewal after it fails) is taken back, unless another job wrote it since."""
        self.delete(name)
        self.check()
        blob = f"{self.folder}/{name}"
        try:
            etag = put_file(self.container, blob, path, overwrite=False)
        except ResourceExistsError:
            self.check()
            etag = put_file(self.container, blob, path, overwrite=True)
        try:
            self.check()
        except FolderLost:
            if etag:
                _delete_if(self.container, blob, etag)
            raise

    def delete(self, name: str) -> None:
        """Remove one file of the folder as this job found it; one changed since is removed
        only after a second renewal."""
        etag = self.found.pop(name, None)
        if etag is None:
            return
        self.check()
        blob = f"{self.folder}/{name}"
        try:
            self.container.delete_blob(
                blob, etag=etag, match_condition=MatchConditions.IfNotModified
            )
        except ResourceNotFoundError:
            return
        except ResourceModifiedError:
            self.check()
            delete_quietly(self.container, blob)


def put_file(container: ContainerClient, name: str, path: Path, overwrite: bool) -> str | None:
    """Write one output file in one commit; its ETag. `overwrite=False` writes only where no
    blob is (else ResourceExistsError), however late the request reaches the service."""
    content_type = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
    with path.open("rb") as data:
        written = container.get_blob_client(name).upload_blob(
            data,
            overwrite=overwrite,
            max_concurrency=2,
            content_settings=ContentSettings(content_type=content_type),
        )
    return str(written["etag"]) if written else None  # the test fakes answer nothing


def _delete_if(container: ContainerClient, name: str, etag: str) -> None:
    """Delete the blob if it is still the version `etag`; otherwise leave it."""
    try:
        container.delete_blob(name, etag=etag, match_condition=MatchConditions.IfNotModified)
    except (ResourceNotFoundError, ResourceModifiedError):
        pass


def _etag(container: ContainerClient, name: str) -> str | None:
    try:
        return str(container.get_blob_client(name).get_blob_properties().etag)
    except ResourceNotFoundError:
        return None


@contextmanager
def owned_folder(
    container: ContainerClient, folder: str, version: str, job_id: str, current: bool = False
) -> Iterator[Hold | None]:
    """Hold the folder while publishing. Yields None, writing nothing, when a newer version
    owns it (`version` strings compare in time order, see `_newer`); the Hold to write with
    once the marker names this job. `current`: the job's input is the blob's current
    version, the newest upload, which owns the folder whatever the marker says."""
    marker = container.get_blob_client(f"{folder}/{MARKER}")
    try:
        marker.upload_blob(b"{}", overwrite=False)
    except ResourceExistsError:
        pass
    try:
        lease = marker.acquire_lease(lease_duration=LEASE_SECONDS)
    except HttpResponseError as exc:
        busy = FolderInUse if _lately_written(marker) else FolderBusy
        raise busy(f"{folder}: another job is publishing there") from exc
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(lease, stop), daemon=True)
    renewer.start()
    try:
        owner = _owner(marker.download_blob(lease=lease).readall())
        newer = not current and owner.get("job_id") != job_id and _newer(owner, version)
        if not newer:
            data = orjson.dumps({"job_id": job_id, "version": version})
            marker.upload_blob(data, overwrite=True, lease=lease)
        yield None if newer else Hold(container, folder, lease)
    finally:
        stop.set()
        renewer.join(timeout=5)
        _release(lease)


def _release(lease: BlobLeaseClient) -> None:
    """Let the folder go; a lease another job took meanwhile is not ours to release."""
    try:
        lease.release()
    except HttpResponseError:
        pass


def _lately_written(marker: BlobClient) -> bool:
    """Whether a publisher of ours holds the marker: a lease of fixed length (ours never are
    infinite: a person's tool, a backup job) on a marker written less than BUSY_LIMIT ago (a
    publisher writes it as it takes the folder)."""
    try:
        props = marker.get_blob_properties()
    except HttpResponseError:
        return False
    lease = getattr(props, "lease", None)  # the test fakes keep no lease details
    if lease is not None and lease.duration == "infinite":
        return False
    return datetime.now(UTC) - props.last_modified < BUSY_LIMIT


def _owner(data: bytes) -> dict[str, object]:
    """The marker's content; one that is not our JSON object (a sync tool's placeholder, a bad
    restore) names no owner, so it is written over instead of failing every publish."""
    try:
        owner = orjson.loads(data or b"{}")
    except orjson.JSONDecodeError:
        return {}
    return owner if isinstance(owner, dict) else {}


def _newer(owner: dict[str, object], version: str) -> bool:
    """Whether the marker's version is newer than `version` ("written|recorded"). Blob times
    have one-second resolution, and the recording times come from the workers' clocks, which
    may be BATCH_CLOCK_SKEW_SECONDS apart: on a tie of the written second the order is not
    known, so a version that is no longer current never takes the folder from another."""
    theirs = str(owner.get("version", ""))
    if not theirs:
        return False  # a fresh folder, or a marker that named no one
    if theirs.split("|")[0] == version.split("|")[0]:
        return True
    return theirs > version


def _renew(lease: BlobLeaseClient, stop: threading.Event) -> None:
    """Keeps the lease between writes (a large file's upload); a lost lease ends it, and the
    next write's own renewal reports the loss."""
    while not stop.wait(LEASE_SECONDS / 3):
        try:
            lease.renew()
        except HttpResponseError:
            return
