"""Who owns an output folder: the newest version of its input. A marker blob in the folder
names the version that last published there; publishing holds a lease on it, so two versions
never write the folder at once, and an older version never overwrites a newer one's files."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.blob import BlobLeaseClient, ContainerClient

MARKER = ".batchdrop-owner.json"
LEASE_SECONDS = 60  # renewed while publishing; a crashed publisher frees the folder this soon


class FolderBusy(Exception):
    """Another job is publishing into the folder right now; try again shortly."""


@contextmanager
def owned_folder(
    container: ContainerClient, folder: str, version: str, job_id: str, current: bool = False
) -> Iterator[bool]:
    """Hold the folder while publishing. Yields False, writing nothing, when a newer version
    owns it (`version` strings compare in time order, see `_newer`); True once the marker
    names this job. `current`: the job's input is the blob's current version, the newest
    upload, which owns the folder whatever the marker says."""
    marker = container.get_blob_client(f"{folder}/{MARKER}")
    try:
        marker.upload_blob(b"{}", overwrite=False)
    except ResourceExistsError:
        pass
    try:
        lease = marker.acquire_lease(lease_duration=LEASE_SECONDS)
    except HttpResponseError as exc:
        raise FolderBusy(f"{folder}: another job is publishing there") from exc
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(lease, stop), daemon=True)
    renewer.start()
    try:
        owner = _owner(marker.download_blob(lease=lease).readall())
        newer = not current and owner.get("job_id") != job_id and _newer(owner, version)
        if not newer:
            data = orjson.dumps({"job_id": job_id, "version": version})
            marker.upload_blob(data, overwrite=True, lease=lease)
        yield not newer
    finally:
        stop.set()
        renewer.join(timeout=5)
        lease.release()


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
    while not stop.wait(LEASE_SECONDS / 3):
        lease.renew()
