"""Identical content: an input whose bytes, file kind (how they are read), job settings and
default deployment a recent job already ran. A marker blob per content hash (work container)
points at the last job that ran it; that job's own summary.json says how it ended.

The rule: identical content whose earlier job completed with every request answered less than
BATCH_DUPLICATE_HOURS ago is not sent again (the summary points at the earlier results); in
every other case it runs again and the summary says it was seen before."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
from azure.core.exceptions import ResourceNotFoundError

from shared.storage.names import SUMMARY, content_marker, output_prefix

if TYPE_CHECKING:
    from shared.deps import Deps
    from shared.intake.job_settings import Used
    from shared.jobs.model import Job

SAME = "the same bytes, read as the same kind of file, under the same job settings"
VERSION = b"batchdrop-content-2"  # 2: the file kind is part of the key


class Digest:
    """The SHA-256 of a stream, taken as it is read."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def through(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self._hash.update(chunk)
            yield chunk

    def key(self, used: Used | None, deployment: str | None, kind: str) -> str:
        """The content key: the bytes, how they are read (formats.file_kind: the same bytes are
        one prompt per row as .csv, one per line as .txt), the settings they ran under, the
        default deployment."""
        parts = [VERSION, self._hash.digest(), kind.encode()]
        parts += [(used.digest if used else "-").encode(), (deployment or "-").encode()]
        return hashlib.sha256(b"\n".join(parts)).hexdigest()


@dataclass(frozen=True)
class Earlier:
    """The last job that ran the same content, and how it ended."""

    job_id: str
    name: str
    output: str  # container/folder/ of its outputs
    summary: dict[str, Any] | None  # its summary.json, if its outputs are still its own
    skip: bool  # completed, every request answered, recently: not worth paying for again

    def pointer(self) -> dict[str, Any]:
        """summary.json's `duplicate_of` for a skipped upload."""
        doc = self.summary or {}
        return {
            "job_id": self.job_id,
            "name": self.name,
            "output": self.output,
            "completed_at": doc.get("completed_at"),
        }

    def skipped(self) -> str:
        return (
            f"Identical content ({SAME}) already ran as job {self.job_id} for {self.name}, "
            f"completed {self.pointer()['completed_at']} with every request answered: its "
            f"results are in {self.output}. Nothing was sent again "
            "(BATCH_DUPLICATE_HOURS; change the file, or set it to 0, to run it again)."
        )

    def sent_again(self) -> str:
        doc = self.summary
        if doc is None:
            how = "which has not finished (or whose outputs were replaced since)"
        else:
            failed = (doc.get("counts") or {}).get("failed", 0)
            how = f"which ended {doc.get('status')} ({failed} failed) {doc.get('completed_at')}"
        return (
            f"Identical content ({SAME}) already ran as job {self.job_id} for {self.name}, "
            f"{how}; it was sent (and billed) again."
        )


def earlier_run(deps: Deps, key: str, job: Job) -> Earlier | None:
    """The last other job with this content, or None."""
    marker = _read(deps.work, content_marker(key))
    if marker is None or marker.get("job_id") == job.job_id:
        return None  # new content, or this job's own marker from before a crash
    job_id, output = str(marker["job_id"]), str(marker["output"])
    doc = _its_summary(deps, job_id, output)
    return Earlier(job_id, str(marker.get("name")), output, doc, _recent_success(deps, doc))


def remember(deps: Deps, key: str, job: Job) -> None:
    """This job is now the one that ran this content."""
    marker = {
        "job_id": job.job_id,
        "name": job.name,
        "output": output_of(deps, job),
        "received_at": job.created_at.isoformat(),
    }
    deps.work.upload_blob(content_marker(key), orjson.dumps(marker), overwrite=True)


def output_of(deps: Deps, job: Job) -> str:
    return f"{deps.settings.output_container}/{output_prefix(job.name)}/"


def _its_summary(deps: Deps, job_id: str, output: str) -> dict[str, Any] | None:
    """The earlier job's summary.json while its folder still holds its outputs (a skipped
    upload's summary there points at it and counts as its own)."""
    folder = output.split("/", 1)[1] if "/" in output else output
    doc = _read(deps.output, folder + SUMMARY)
    if doc is None:
        return None
    pointer = doc.get("duplicate_of") or {}
    if doc.get("job_id") == job_id:
        return doc
    if pointer.get("job_id") == job_id:
        return {**doc, "status": "completed", "completed_at": pointer.get("completed_at")}
    return None


def _recent_success(deps: Deps, doc: dict[str, Any] | None) -> bool:
    hours = deps.settings.duplicate_hours
    if not hours or doc is None or doc.get("status") != "completed":
        return False
    if (doc.get("counts") or {}).get("failed", 1) != 0:
        return False
    ended = doc.get("completed_at")
    if not isinstance(ended, str):
        return False
    age = datetime.now(UTC) - datetime.fromisoformat(ended)
    return age < timedelta(hours=hours)


def _read(container: Any, name: str) -> dict[str, Any] | None:
    try:
        doc = orjson.loads(container.download_blob(name).readall())
    except (ResourceNotFoundError, orjson.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) else None
