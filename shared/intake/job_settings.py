"""An input's `_job.json` from storage: a short wait for one uploaded together with the file,
the nearest one read, and which version of it the job used (name, ETag, content hash)."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from azure.core.exceptions import ResourceNotFoundError

from shared.intake import folder_settings
from shared.intake.problem import Problem

if TYPE_CHECKING:
    from shared.deps import Deps
    from shared.jobs.model import Job

log = logging.getLogger(__name__)

Found = folder_settings.FolderSettings | list[Problem]


@dataclass(frozen=True)
class Used:
    """The `_job.json` a job read: recorded in job.json (work) and summary.json."""

    name: str
    etag: str
    digest: str  # of its bytes: identical content under other settings is other content

    def record(self) -> dict[str, str]:
        return {"name": self.name, "etag": self.etag}


def settle(deps: Deps, job: Job) -> None:
    """Tools upload a file and its `_job.json` at once, in any order: an input younger than
    BATCH_SETTLE_SECONDS waits out the rest before its settings are looked for."""
    wait = deps.settings.settle_seconds
    if wait <= 0:
        return
    try:
        props = deps.blobs.get_blob_client(job.container, job.name).get_blob_properties()
    except ResourceNotFoundError:
        return  # reading it says so
    age = (datetime.now(UTC) - props.last_modified).total_seconds()
    left = min(wait, wait - age)  # a clock ahead of storage's never waits longer than asked
    if left > 0:
        log.info(
            "job %s: input is %.1f s old; waiting %.1f s for its settings", job.job_id, age, left
        )
        time.sleep(left)


def load(deps: Deps, job: Job) -> tuple[Found, Used | None]:
    """The nearest `_job.json`, parsed, and the version that was read (None: there is none)."""
    used: list[Used] = []

    def read(path: str) -> bytes | None:
        found = _read(deps, job, path)
        if found is None:
            return None
        data, etag = found
        used.append(Used(path, etag, hashlib.sha256(data).hexdigest()))
        return data

    return folder_settings.find(read, job.name), (used[-1] if used else None)


def _read(deps: Deps, job: Job, path: str) -> tuple[bytes, str] | None:
    """One candidate and its ETag; past the size cap only its start (the parser says too big)."""
    client = deps.blobs.get_blob_client(job.container, path)
    try:
        too_big = client.get_blob_properties().size > folder_settings.MAX_BYTES
        length = folder_settings.MAX_BYTES + 1 if too_big else None  # a range fails on empty blobs
        download = client.download_blob(offset=0 if too_big else None, length=length)
        data = download.readall()
    except ResourceNotFoundError:
        return None
    log.info("job %s: job settings from %s", job.job_id, path)
    return bytes(data), str(download.properties.etag)
