"""Waiting for room at the service: the enqueued-token quota and the resource's file limit."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

from shared.jobs.part import Part
from shared.telemetry import metrics

if TYPE_CHECKING:
    from shared.deps import Deps

MAX_QUOTA_BACKOFF = 3600

GIVE_UP = {
    "token_limit_exceeded": "The deployment's enqueued-token quota stayed full for {hours:g} h; "
    "gave up. Raise the quota, split the file, or upload it again later.",
    "file_limit_reached": "The Azure OpenAI resource's batch-file limit stayed reached for "
    "{hours:g} h; gave up. Delete unused files from the resource, or upload again later.",
}


def quota_wait(deps: Deps, part: Part, code: str = "token_limit_exceeded") -> Part:
    """Back off exponentially (never two live batches: this part has none now), up to a deadline."""
    now = int(time.time())
    since = part.waiting_since or now
    hours = deps.settings.quota_deadline_hours
    deadline = since + hours * 3600
    if now >= deadline:
        error = {"code": code, "message": GIVE_UP[code].format(hours=hours)}
        return replace(part, batch_id=None, remote_status="failed", errors=(error,), creating=False)
    if code == "token_limit_exceeded":
        metrics.record_quota_wait(part.deployment)
    delay = min(deps.settings.quota_backoff_seconds * 2**part.quota_tries, MAX_QUOTA_BACKOFF)
    return replace(
        part,
        batch_id=None,
        remote_status=None,
        errors=(),
        wait_until=int(min(now + delay, deadline)),
        waiting_since=since,
        quota_tries=part.quota_tries + 1,
        creating=False,
    )
