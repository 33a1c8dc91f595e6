"""Retry: which failed requests are sent again (the policy), how many times each was tried
(attempts), and the follow-up round that sends them in new parts."""

from __future__ import annotations

import logging
from array import array
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from shared.batches.batchfile import native_line
from shared.batches.split import Splitter
from shared.config import Settings
from shared.idmap import DICT_LIMIT, IdMap, RecordLog
from shared.jobs.model import Job, JobStatus
from shared.jobs.part import Part
from shared.storage import blobs
from shared.storage.names import part_file, work_prefix

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)

RETRY_FILE = "retry.jsonl"  # local only: the merge's list of requests to send again

# Per-line failures worth another try: throttling, server errors, timeouts (status 0), and
# requests an expired batch never ran or the service silently dropped. Not 400s, not content
# filters, not a batch the service refused, not a user's cancel.
RETRY_STATUS = frozenset({0, 408, 429, 500, 502, 503, 504})
RETRY_CODES = frozenset(
    {"batch_expired", "missing_from_output", "timeout", "rate_limit_exceeded", "server_error"}
)


def max_attempts_for(job: Job, settings: Settings) -> int:
    """Tries per request for this job: a stopped or cancelled job sends nothing again."""
    cancelled = any(p.remote_status == "cancelled" for p in job.current_parts)
    return 1 if cancelled or job.stop is not None else settings.max_attempts


def should_retry(result: dict[str, Any], max_attempts: int) -> bool:
    """A failed request goes out again if its failure is worth another try and it has tries
    left (its `attempts` counts the tries so far)."""
    return retryable(result) and result["attempts"] < max_attempts


def retryable(result: dict[str, Any]) -> bool:
    """Failures another try can fix: throttling, server errors, timeouts, lost lines."""
    error = result.get("error")
    if result["status"] == "succeeded" or not isinstance(error, dict):
        return False
    code = str(error.get("code", "")).lower()
    return error.get("status_code") in RETRY_STATUS or code in RETRY_CODES


class Attempts:
    """Which parts each request was sent in: its first part (from the index) plus retries.
    Every request of a job may be retried: each one's record (custom_id, retry parts) waits
    in a temporary file, and memory holds where (shared/idmap.py)."""

    def __init__(self, dict_limit: int = DICT_LIMIT, hash_of: Callable[[str], int] = hash) -> None:
        self._log = RecordLog()
        self._records = IdMap(self._key_at, None, dict_limit, hash_of)
        self._any = False

    def add_retry_part(self, custom_ids: Iterable[str], part: int) -> None:
        records, log = self._records, self._log
        for custom_id in custom_ids:
            later = self.retried(custom_id)
            records.put(custom_id, log.append(_record(custom_id, [*later, part])))
            self._any = True

    def retried(self, custom_id: str) -> list[int]:
        """The parts a request was sent in again, in order."""
        if not self._any:
            return []
        place = self._records.get(custom_id)
        if place is None:
            return []
        record = self._log.read(place)
        start = 4 + int.from_bytes(record[:4], "little")
        return array("I", record[start:]).tolist()

    def of(self, custom_id: str, first_part: int) -> tuple[int, int]:
        """(number of attempts, the part of the latest attempt)."""
        later = self.retried(custom_id) if self._any else None
        return (1 + len(later), later[-1]) if later else (1, first_part)

    def _key_at(self, place: int) -> str:
        record = self._log.read(place)
        return record[4 : 4 + int.from_bytes(record[:4], "little")].decode("utf-8", "surrogatepass")


def _record(custom_id: str, parts: list[int]) -> bytes:
    """custom_id (its length first) and the parts it was retried in."""
    key = custom_id.encode("utf-8", "surrogatepass")
    return len(key).to_bytes(4, "little") + key + array("I", parts).tobytes()


def read_lines(path: Path) -> Iterator[bytes]:
    """Non-blank lines of a local file, streamed."""
    with path.open("rb") as stream:
        for raw in stream:
            raw = raw.rstrip(b"\r\n")
            if raw:
                yield raw


def send_retries(deps: Deps, job: Job, folder: Path) -> Job:
    """Send the retryable requests again in new parts; the poller takes it from there."""
    writer = RoundWriter(deps, job, folder)
    for raw in read_lines(folder / RETRY_FILE):
        writer.add(orjson.loads(raw))
    new = writer.finish()
    count = sum(p.count for p in new)
    log.info("job %s: retrying %d request(s) in %d batch(es)", job.job_id, count, len(new))
    job = job.moved_to(JobStatus.SUBMITTING, parts=job.parts + new)
    return deps.store.save(job, release=True)


class RoundWriter:
    """The upload files of a new round of a job's requests (an automatic retry round, or a
    person's retry): each request placed by the Splitter, written to its part's file in the
    order given (input order), the files stored with the job's work files."""

    def __init__(self, deps: Deps, job: Job, folder: Path) -> None:
        s = deps.settings
        self.deps, self.job, self.folder = deps, job, folder
        self.splitter = Splitter(s.max_requests, s.max_bytes, first_index=len(job.parts))
        self.urls = {p.deployment: p.url for p in job.parts}
        self.files: dict[int, BinaryIO] = {}

    def add(self, row: dict[str, Any]) -> int:
        """Place one request ({custom_id, request}); the index of the part it goes in."""
        deployment = row["request"]["model"]
        url = self.urls[deployment]
        native = native_line(row["custom_id"], url, row["request"])
        plan = self.splitter.place(deployment, url, _sized(len(native)), 0)
        if plan.index not in self.files:
            self.files[plan.index] = (self.folder / part_file(plan.index)).open("wb")
        self.files[plan.index].write(native)
        return plan.index

    def finish(self) -> tuple[Part, ...]:
        """Store the files; the new parts, one round after the job's latest."""
        prefix = work_prefix(self.job.job_id)
        for out in self.files.values():
            out.close()
            blobs.upload_file(self.deps.work, prefix + Path(out.name).name, Path(out.name))
        round_ = max(p.round for p in self.job.parts) + 1
        return tuple(
            Part(p.index, p.deployment, p.url, p.count, round=round_) for p in self.splitter.parts
        )


def _sized(size: int) -> Callable[[str], int]:
    return lambda _url: size
