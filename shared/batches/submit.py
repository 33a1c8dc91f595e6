"""Submitting one part: upload its file, then create its batch; resumable, never twice."""

from __future__ import annotations

import logging
import math
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from azure.core.exceptions import ResourceNotFoundError

from shared.batches.access import made_elsewhere
from shared.batches.quota import quota_wait
from shared.batches.service import (
    CREATE_TRIES,
    FileLimitReached,
    QuotaExceeded,
    RateLimited,
    Refused,
    RemoteBatch,
)
from shared.crash import crashpoint
from shared.jobs.lease import LeaseLost, covered, reread
from shared.jobs.model import Conflict, Job
from shared.jobs.part import Part
from shared.misconfig import Misconfigured
from shared.storage import blobs
from shared.storage.names import part_file, upload_name, work_prefix
from shared.storage.work import check_work_files

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)

FILE_POLL_SECONDS = 0.5
# A file the service will not process is uploaded once more, then given up; only uploads the
# service judged unusable count, never ones a transient error interrupted.
MAX_UNUSABLE_UPLOADS = 2
# File states before `processed` (the service may report any of them while it reads a file).
STILL_PROCESSING = frozenset({"uploaded", "pending", "running"})
# A create sent is looked for this many client timeouts (AZURE_OPENAI_TIMEOUT_SECONDS) before
# another is sent: long past the client's own wait, short against the 24 h a batch may take.
LATE_CREATE_TIMEOUTS = 3
MAX_ENDPOINT = 1000  # characters of the endpoint kept on a part (a URL; table strings hold 32K)


def submit_part(deps: Deps, job: Job, part: Part) -> Job:
    """UPLOAD or CREATE phase: upload the part's file, then create its batch once processed.

    Every side effect is recorded before the next one, so a crash anywhere resumes here.
    """
    try:
        return _submit(deps, job, part)
    except Refused as refused:
        # A 404 for a file made at another endpoint: the setting changed, nothing was refused.
        moved = (
            made_elsewhere(part, deps.settings) if refused.error.get("status_code") == 404 else None
        )
        if moved is not None:
            raise moved from refused
        log.error("job %s part %d: the service refused it: %s", job.job_id, part.index, refused)
        current = reread(deps.store, job)
        failed = replace(
            current.parts[part.index],
            remote_status="failed",
            errors=(refused.error,),
            uploading=None,
            creating=False,
        )
        return deps.store.save(current.with_part(failed))


def _submit(deps: Deps, job: Job, part: Part) -> Job:
    if part.file_id is None:
        job = _upload(deps, job, part)
        part = job.parts[part.index]
        if part.file_id is None:
            return job  # waiting for room at the service
    status = _wait_for_file(deps, part)
    if status == "processed":
        return _create(deps, job, part)
    if status in STILL_PROCESSING and not _file_overdue(deps, part):
        return job  # the poller looks again next tick
    return deps.store.save(job.with_part(_file_unusable(deps, job, part, status)))


def _create(deps: Deps, job: Job, part: Part) -> Job:
    metadata = batch_metadata(job, part)
    batch = deps.service.find_batch(metadata, lookup_since(deps, part)) if part.creating else None
    if batch is None and may_still_land(deps, part):
        return job  # the create before may reach the service yet: look again next tick
    if batch is None:
        job, batch = _send_create(deps, job, part, metadata)
        if batch is None:
            return job  # refused for quota: waiting
    log.info("job %s part %d: batch %s created", job.job_id, part.index, batch.id)
    # Only the id: the status and files are read by the tracking step, which also handles a
    # found batch that has already ended.
    part = replace(part, batch_id=batch.id, wait_until=None, waiting_since=None, creating=False)
    return _record(deps, job, part, batch.id, "batch_id", deps.service.cancel_batch)


def _send_create(
    deps: Deps, job: Job, part: Part, metadata: dict[str, str]
) -> tuple[Job, RemoteBatch | None]:
    """Send the create, again after a 429 (the service did nothing), up to CREATE_TRIES. The
    intent is written again before each try, under a lease that covers the call: a late
    create is waited for from the try that was sent, not the first (F3), and a worker frozen
    in a 429's back-off sends nothing once another has taken the job over (F21)."""
    tries = 1
    while True:
        sent = replace(part, creating=True, creating_at=math.ceil(time.time()))
        job = deps.store.save(job.with_part(sent))
        covered(deps.store, job, deps.settings.openai_timeout_seconds)
        try:
            batch = deps.service.create_batch(part.file_id or "", part.url, metadata)
            crashpoint("after_batch_create")
            return job, batch
        except RateLimited as busy:
            if tries >= CREATE_TRIES:
                _answered(deps, job, sent)
                raise
            time.sleep(busy.retry_after or min(2.0**tries, 20.0) * random.uniform(0.5, 1.0))
            tries += 1
        except QuotaExceeded:
            log.warning("job %s part %d: token quota full; waiting", job.job_id, part.index)
            return deps.store.save(job.with_part(quota_wait(deps, part))), None
        except Misconfigured:
            _answered(deps, job, sent)
            raise


def _answered(deps: Deps, job: Job, sent: Part) -> None:
    """The service answered the create itself (429, 401, 403, a wrong endpoint): nothing is
    on its way to land later, so the next create need not wait for it. Its look-up still
    runs (`creating` stays): an earlier create's answer may have been lost."""
    deps.store.save(job.with_part(replace(sent, creating_at=None)))


def _record(
    deps: Deps, job: Job, part: Part, made: str, field: str, undo: Callable[[str], None]
) -> Job:
    """Save the id of what a call made (`field`: the part's file_id or batch_id). A worker
    whose call outlived its lease (frozen, or a link slower than the lease) cannot: the job's
    new holder may have made it again, so this one would be left at the service, billed for a
    batch (I1, I6, I10). `undo` deletes or cancels it, unless the holder found and recorded it
    meanwhile; a holder that finds an upload deleted uploads once more."""
    try:
        return deps.store.save(job.with_part(part))
    except (LeaseLost, Conflict):
        current = deps.store.get(job.job_id)
        if current is None or getattr(current.parts[part.index], field) != made:
            log.warning("job %s: lease lost; taking back %s", job.job_id, made)
            undo(made)
        raise


def _file_overdue(deps: Deps, part: Part) -> bool:
    return time.time() - (part.uploaded_at or 0) > deps.settings.file_deadline_seconds


def _file_unusable(deps: Deps, job: Job, part: Part, status: str | None) -> Part:
    """An upload stuck in pending or turned error: upload once more, then fail the part."""
    log.warning("job %s part %d: uploaded file is %s", job.job_id, part.index, status)
    if part.file_id:
        deps.service.delete_file(part.file_id)
    unusable = part.unusable_uploads + 1
    if unusable < MAX_UNUSABLE_UPLOADS:
        return replace(part, file_id=None, uploaded_at=None, unusable_uploads=unusable)
    error = {
        "code": "file_error",
        "message": f"The service did not process the uploaded batch file ({status}) after "
        f"{unusable} uploads.",
    }
    return replace(
        part, file_id=None, remote_status="failed", errors=(error,), unusable_uploads=unusable
    )


def _upload(deps: Deps, job: Job, part: Part) -> Job:
    uploaded = deps.service.find_file(part.uploading) if part.uploading else None
    if uploaded is None:
        filename = upload_name(job.job_id, part.index, part.upload_tries + 1)
        part = replace(
            part,
            uploading=filename,
            uploading_at=math.ceil(time.time()),
            upload_tries=part.upload_tries + 1,
            endpoint=deps.settings.openai_endpoint[:MAX_ENDPOINT],
        )
        job = deps.store.save(job.with_part(part))
        with tempfile.TemporaryDirectory(prefix="batchdrop-") as tmp:
            path = Path(tmp) / part_file(part.index)
            _part_file(deps, job, path)
            covered(deps.store, job, deps.settings.openai_timeout_seconds)
            try:
                uploaded = deps.service.upload(filename, path)
            except FileLimitReached:
                # Finished jobs free files as they are cleaned up: wait, as for token quota.
                log.warning("job %s part %d: file limit reached; waiting", job.job_id, part.index)
                refused = replace(part, uploading=None, upload_tries=part.upload_tries - 1)
                waiting = quota_wait(deps, refused, "file_limit_reached")
                return deps.store.save(job.with_part(waiting))
        crashpoint("after_file_upload")
    log.info("job %s part %d: uploaded as %s", job.job_id, part.index, uploaded.id)
    part = replace(part, file_id=uploaded.id, uploaded_at=int(time.time()), uploading=None)
    return _record(deps, job, part, uploaded.id, "file_id", deps.service.delete_file)


def _part_file(deps: Deps, job: Job, path: Path) -> None:
    """The part's upload file from the work container; when it is not there, why not (a
    changed or emptied work container: shared/storage/work.py)."""
    try:
        blobs.download_to(deps.work, work_prefix(job.job_id) + path.name, path)
    except ResourceNotFoundError:
        check_work_files(deps.work, job.job_id, job.work_container)
        raise  # the index is there but not this file: unexpected, counted as such


def _wait_for_file(deps: Deps, part: Part) -> str | None:
    """Wait briefly for the service to process the upload; the poller waits longer. A file
    another endpoint than the one it was uploaded to does not know is a wrong setting: never
    uploaded again there (that would run the requests twice)."""
    deadline = time.monotonic() + deps.settings.file_wait_seconds
    if deps.deadline is not None:
        deadline = min(deadline, deps.deadline)  # never past the poll tick's budget
    while True:
        remote = deps.service.get_file(part.file_id or "")
        problem = made_elsewhere(part, deps.settings) if remote is None else None
        if problem is not None:
            raise problem
        status = remote.status if remote else None
        if status not in STILL_PROCESSING or time.monotonic() >= deadline:
            return status
        time.sleep(FILE_POLL_SECONDS)


def may_still_land(deps: Deps, part: Part) -> bool:
    """A create whose answer never came, not found at the service yet, may still reach it: a
    request held up in the network is acted on after the client's timeout and the look-up
    right after it. It is looked for until LATE_CREATE_TIMEOUTS client timeouts after it was
    sent (plus the clock skew between workers) before another create may be sent."""
    if not part.creating or part.batch_id or part.creating_at is None:
        return False
    window = LATE_CREATE_TIMEOUTS * deps.settings.openai_timeout_seconds
    return time.time() < part.creating_at + window + deps.settings.clock_skew_seconds


def lookup_since(deps: Deps, part: Part) -> int | None:
    """How far back to look for a batch an interrupted create made: to the part's upload (its
    batch cannot be older), less the clock skew allowed between a worker and the service."""
    if part.uploaded_at is None:
        return None
    return part.uploaded_at - int(deps.settings.clock_skew_seconds)


def batch_metadata(job: Job, part: Part) -> dict[str, str]:
    """Tags that let a retry find the batch an earlier, interrupted attempt created."""
    return {
        "batchdrop_job": job.job_id,
        "batchdrop_part": str(part.index),
        "batchdrop_try": str(part.quota_tries),  # a batch refused for quota is not "found"
    }
