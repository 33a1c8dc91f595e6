"""At completion: does a newer `_job.json` apply to the input than the one the job used (or one
where it used none)? Tools upload a file and its settings in any order; the settle wait covers
most, and this says so for the rest. Looked up once, then kept in the work folder, so that
completing again writes the same summary (I4)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from azure.core.exceptions import ResourceNotFoundError

from shared.jobs.meta import JobMeta
from shared.jobs.model import Job
from shared.results.summary import etag, stamp
from shared.storage.names import SETTINGS_CHECK, settings_candidates, work_prefix

if TYPE_CHECKING:
    from shared.deps import Deps


def newer_settings(deps: Deps, job: Job, meta: JobMeta) -> list[str]:
    """Warnings for summary.json; [] when the settings used are still the ones that apply."""
    name = work_prefix(job.job_id) + SETTINGS_CHECK
    try:
        stored = orjson.loads(deps.work.download_blob(name).readall())
        return [str(w) for w in stored]
    except ResourceNotFoundError:
        pass
    warnings = _compare(meta.job_settings, _nearest(deps, job))
    deps.work.upload_blob(name, orjson.dumps(warnings), overwrite=True)
    return warnings


def _nearest(deps: Deps, job: Job) -> Any:
    """The properties of the `_job.json` that applies to the input now, or None (listed by
    exact name: a listing has no not-found error to tell apart from a failing call)."""
    container = deps.blobs.get_container_client(job.container)
    for path in settings_candidates(job.name):
        for blob in container.list_blobs(name_starts_with=path):
            if blob.name == path:
                return blob
    return None


def _compare(used: dict[str, str] | None, now: Any) -> list[str]:
    if now is None:
        return []
    if used and used.get("name") == now.name and etag(used.get("etag", "")) == etag(now.etag):
        return []
    changed = stamp(now.last_modified)
    if used is None:
        return [
            f"This file ran without job settings, but {now.name} (changed {changed}, after the "
            "file was read) now applies to it; upload the file again to run it with them."
        ]
    return [
        f"This file ran with {used.get('name')} (ETag {etag(used.get('etag', ''))}), but "
        f"{now.name} (changed {changed}) now applies to it; upload the file again to run it "
        "with those settings."
    ]
