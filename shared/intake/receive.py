"""Receiving an input blob: is it an input, and its job recorded once per blob version."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceNotFoundError

from shared.config import Settings, SettingsError
from shared.jobs.model import Job, StopReason
from shared.storage.names import is_ignored, unsafe_name

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def check_containers(settings: Settings) -> None:
    """Outputs and work files must never land where the trigger listens (a trigger loop)."""
    for name, value in (
        ("BATCH_OUTPUT_CONTAINER", settings.output_container),
        ("BATCH_WORK_CONTAINER", settings.work_container),
    ):
        if value == settings.input_container:
            raise SettingsError(
                f"Setting {name}={value!r} is the input container (BATCH_INPUT_CONTAINER); "
                "outputs there would trigger new jobs. Use another container."
            )


def is_input(deps: Deps, container: str, name: str) -> bool:
    return container == deps.settings.input_container and not is_ignored(name)


def content_of(props: Any) -> str:
    """The content's identity from a blob's properties (listed or read): its Content-MD5 and
    size, "" without an MD5. Setting metadata or properties gives a blob a new ETag and
    Last-Modified but keeps its MD5 (setting properties without one clears it: "" then)."""
    settings = getattr(props, "content_settings", None)  # absent: nothing known (test fakes)
    md5 = settings.content_md5 if settings else None
    if not md5:
        return ""
    return f"{base64.b64encode(bytes(md5)).decode()}:{int(props.size or 0)}"


def record_job(
    deps: Deps,
    container: str,
    name: str,
    etag: str,
    modified: datetime | None,
    quiet: bool = False,
    content: str = "",
) -> Job | None:
    """Create the job of one blob version unless it exists; the new job, or None. Older open
    versions of the same name are asked to stop: the newest upload wins. A version whose
    content is that of the newest job, still running, is that job's input touched (metadata
    set), not a new upload: no job, so the same bytes are not sent and billed twice (I1)."""
    job = Job.new(container, name, etag, blob_modified=modified, content=content)
    if _touched(deps, job):
        return None
    created = deps.store.create(job)
    if created is None:
        if not quiet:
            log.info("job %s already exists for this blob version; event ignored", job.job_id)
        return None
    log.info("job %s received (input %s)", job.job_id, name)
    supersede_older(deps, created)
    return created


def _touched(deps: Deps, job: Job) -> bool:
    """Whether the job's blob version is the input of the newest job of its name, still
    running, with only its metadata or properties changed: the same content (`content_of`),
    read by that job already (it has parts: a job still RECEIVED reads by its ETag, which the
    touch made stale, so it needs the new version's own job). The version is then noted, so
    it stays known once that job has ended. Uploading the same bytes again after a job ended
    is how a person runs a file again: that is a new job. Jobs are read only for an ETag not
    yet recorded (a re-upload or a touch)."""
    if not job.content:
        return False
    versions = [job_id for job_id, _ in deps.store.versions(job.container, job.name)]
    if job.job_id in versions:  # a job of its own, or a touch noted before
        return deps.store.get(job.job_id) is None
    found = [j for j in (deps.store.get(job_id) for job_id in versions) if j is not None]
    if not found:
        return False
    newest = max(found, key=lambda j: (j.blob_modified or EPOCH, j.created_at))
    if newest.content != job.content or not newest.parts or newest.is_terminal:
        return False
    deps.store.note_touch(job, newest.job_id)
    log.info("input of job %s: same content, new ETag; not a new upload", newest.job_id)
    return True


def supersede_older(deps: Deps, job: Job) -> None:
    """Every other recorded version of the job's input that is older gets a stop request; if
    a newer one was recorded first (events out of order), this job is the one to stop."""
    current = _current_etag(deps, job)
    for other_id, _ in deps.store.versions(job.container, job.name):
        other = deps.store.get(other_id) if other_id != job.job_id else None
        if other is None or not other.is_open:
            continue
        if newer(job, other, current):
            _stop(deps, other.job_id, job)
        else:
            _stop(deps, job.job_id, other)


def newer(job: Job, other: Job, current: str | None) -> bool:
    """Whether `job` is a newer version of the input than `other`. The version in storage now
    is the newest: blob times have a one-second resolution, and an event that stalled can
    record an older version after a newer one written the same second. Only when neither is
    current (both replaced, or the blob deleted) do the write time, then the record time, decide."""
    for candidate, verdict in ((job, True), (other, False)):
        if current is not None and _same(candidate.etag, current):
            return verdict
    mine = (job.blob_modified or EPOCH, job.created_at)
    return mine > (other.blob_modified or EPOCH, other.created_at)


def _current_etag(deps: Deps, job: Job) -> str | None:
    """The ETag of the input's version in storage now; None when it is gone or cannot be
    read by name (the time order decides then)."""
    if unsafe_name(job.name) is not None:
        return None
    try:
        return str(deps.blobs.get_blob_client(job.container, job.name).get_blob_properties().etag)
    except ResourceNotFoundError:
        return None


def _same(etag: str, other: str) -> bool:
    return etag.strip('"') == other.strip('"')


def _stop(deps: Deps, older: str, newer: Job) -> None:
    written = newer.blob_modified.isoformat() if newer.blob_modified else "unknown"
    detail = f"A newer upload of {newer.name} (written {written}, job {newer.job_id}) replaced it."
    if deps.store.request_stop(older, StopReason.SUPERSEDED, detail):
        log.info("job %s superseded by job %s", older, newer.job_id)
