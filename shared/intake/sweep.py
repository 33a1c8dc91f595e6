"""The sweep: find input blobs whose event never came, and record their jobs once."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import orjson
from azure.core.exceptions import ResourceNotFoundError

from shared.intake.receive import content_of, record_job
from shared.storage.names import SWEEP_STATE, is_ignored

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)

# Blobs changed this long before the last sweep are looked at again: listing is not atomic,
# and a blob committed while the last listing ran may carry an older timestamp than the newest
# one it returned.
OVERLAP = timedelta(minutes=10)
BUDGET_SECONDS = 60.0


def sweep_inputs(deps: Deps) -> int:
    """Record a job for each input blob version that has none; the poll tick then advances it.

    Returns how many were recorded. Never raises: a failed sweep is retried next tick.
    """
    try:
        return _sweep(deps, time.monotonic() + BUDGET_SECONDS)
    except Exception:  # noqa: BLE001 - the sweep must not stop the poll tick
        log.exception("input sweep failed; retried next tick")
        return 0


def _sweep(deps: Deps, deadline: float) -> int:
    newest = _load(deps)
    since = newest - OVERLAP if newest else None
    container = deps.settings.input_container
    listed = deps.blobs.get_container_client(container).list_blobs()
    fresh = sorted(
        (b for b in listed if not is_ignored(b.name) and (not since or b.last_modified > since)),
        key=lambda b: b.last_modified,
    )
    recorded, mark = 0, newest
    for blob in fresh:
        if time.monotonic() > deadline:
            log.warning("input sweep out of time; the rest waits for the next tick")
            break
        content = content_of(blob)
        modified = blob.last_modified
        if record_job(deps, container, blob.name, blob.etag, modified, True, content) is not None:
            recorded += 1
        mark = max(mark, blob.last_modified) if mark else blob.last_modified
    if mark is not None and mark != newest:
        _save(deps, mark)
    if recorded:
        log.warning("input sweep: %d blob(s) had no job (a lost event); recorded", recorded)
    return recorded


def _load(deps: Deps) -> datetime | None:
    try:
        data = deps.work.download_blob(SWEEP_STATE).readall()
    except ResourceNotFoundError:
        return None
    return datetime.fromisoformat(orjson.loads(data)["newest"])


def _save(deps: Deps, newest: datetime) -> None:
    state = orjson.dumps({"newest": newest.isoformat()})
    deps.work.upload_blob(SWEEP_STATE, state, overwrite=True)
