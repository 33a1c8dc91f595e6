"""The Azure OpenAI files and batches calls as a Protocol, the records they return, and the
refusals they raise. Nothing here knows the SDK: see azure_openai.py for the implementation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from shared.jobs.part import normalise_remote_status

# Tries of one create or upload when the service answers 429 (it did nothing: safe to repeat).
CREATE_TRIES = 4


class RateLimited(Exception):
    """A create answered 429: the service did nothing. The caller sends it again after
    `retry_after` seconds (the service's Retry-After; 0 when it sent none), each try under
    its own intent record and lease check (shared/batches/submit.py)."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited; retry after {retry_after:g} s")
        self.retry_after = retry_after


class QuotaExceeded(Exception):
    """The deployment's enqueued-token quota is full (token_limit_exceeded): try again later."""


class Refused(Exception):
    """A permanent refusal of what was sent (400, 422, or a 404 from an endpoint that works):
    trying again cannot help. A wrong setting (401, 403, a 404 everywhere) is no refusal: it
    raises shared.misconfig.Misconfigured."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.error = error  # {"code", "message", "status_code"}: the service's own words


class FileLimitReached(QuotaExceeded):
    """The resource holds as many batch files as it may (500, or 10,000 with expiry)."""


@dataclass(frozen=True)
class RemoteFile:
    id: str
    status: str | None
    filename: str = ""
    details: str = ""


@dataclass(frozen=True)
class RemoteBatch:
    id: str
    status: str | None
    total: int = 0
    completed: int = 0
    failed: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: tuple[dict[str, Any], ...] = ()
    ended_at: int | None = None
    metadata: tuple[tuple[str, str], ...] = ()


class BatchService(Protocol):
    def upload(self, filename: str, path: Path) -> RemoteFile: ...

    def find_file(self, filename: str) -> RemoteFile | None: ...

    def get_file(self, file_id: str) -> RemoteFile | None: ...

    def create_batch(
        self, file_id: str, endpoint: str, metadata: dict[str, str]
    ) -> RemoteBatch: ...

    def find_batch(
        self, metadata: dict[str, str], since: int | None = None
    ) -> RemoteBatch | None: ...

    def get_batch(self, batch_id: str) -> RemoteBatch | None: ...

    def cancel_batch(self, batch_id: str) -> None: ...

    def download(self, file_id: str, dest: Path) -> None: ...

    def delete_file(self, file_id: str) -> None: ...


def parse_batch(data: dict[str, Any]) -> RemoteBatch:
    """Azure's batch object, read defensively: any case, ISO or epoch times, null counts."""
    counts = data.get("request_counts") or {}
    errors = (data.get("errors") or {}).get("data") or []
    ended = next(
        (
            data.get(k)
            for k in ("completed_at", "failed_at", "cancelled_at", "expired_at")
            if data.get(k)
        ),
        None,
    )
    return RemoteBatch(
        id=data["id"],
        status=normalise_remote_status(data.get("status")),
        total=_int(counts.get("total")),
        completed=_int(counts.get("completed")),
        failed=_int(counts.get("failed")),
        output_file_id=data.get("output_file_id") or None,
        error_file_id=data.get("error_file_id") or None,
        errors=tuple(dict(e) for e in errors if isinstance(e, dict)),
        ended_at=epoch(ended),
        metadata=tuple(sorted((data.get("metadata") or {}).items())),
    )


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def epoch(value: object) -> int | None:
    """Epoch seconds from an int or an ISO-8601 string (some API versions send those)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            return None
    return None
