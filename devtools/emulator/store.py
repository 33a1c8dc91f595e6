"""In-memory records for files and batches, and the batch lifecycle computed from time."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import Timings
from .rules import Facts
from .validation import deployments_in

TERMINAL = ("completed", "failed", "expired", "cancelled")
OUTPUT_TERMINAL = ("completed", "expired", "cancelled")
STAMPS = {
    "in_progress": "in_progress_at",
    "finalizing": "finalizing_at",
    "completed": "completed_at",
    "failed": "failed_at",
    "expired": "expired_at",
    "cancelling": "cancelling_at",
    "cancelled": "cancelled_at",
}
COMPLETION_WINDOW = 24 * 3600


class Clock:
    """Monotonic time for the lifecycle, reported as epoch seconds."""

    def __init__(self, mono: Callable[[], float], wall: Callable[[], float]) -> None:
        self._mono = mono
        self._offset = wall() - mono()

    def now(self) -> float:
        return self._mono()

    def epoch(self, at: float) -> int:
        return int(at + self._offset)


@dataclass
class FileRec:
    id: str
    filename: str
    purpose: str
    content: bytes
    created: float
    ready: float
    created_at: int
    expires_at: int | None = None
    stuck: str | None = None  # a `file_status` fault: "pending" for ever, or "error"
    batch_id: str | None = None  # set on a batch's output and error files
    deleted_at: int | None = None
    _deployments: frozenset[str] | None = None

    def deployments(self) -> frozenset[str]:
        """The deployments the file's lines name (read once, when a scoped fault asks)."""
        if self._deployments is None:
            self._deployments = deployments_in(self.content)
        return self._deployments

    def facts(self) -> Facts:
        return Facts(self.deployments(), (self.filename,))

    def status(self, now: float) -> str:
        if self.stuck is not None:
            return self.stuck if self.stuck == "pending" or now >= self.ready else "pending"
        return "processed" if now >= self.ready else "pending"

    def to_json(self, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": self.status(now),
            "status_details": None,
        }
        if self.expires_at is not None:
            out["expires_at"] = self.expires_at
        return out


@dataclass
class LineResult:
    custom_id: str
    ok: bool
    data: bytes


@dataclass(frozen=True)
class Phase:
    status: str
    at: float


@dataclass
class BatchRec:
    id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    metadata: dict[str, str] | None
    created: float
    created_at: int
    timings: Timings
    errors: list[dict[str, Any]] | None = None
    order: list[str] = field(default_factory=list)  # custom_ids in processing order
    results: list[LineResult] = field(default_factory=list)
    ok_prefix: list[int] = field(default_factory=lambda: [0])
    ready: float = math.inf  # when every result exists (later than creation for upstream)
    outcome: dict[str, Any] | None = None
    cancel_at: float | None = None
    cancel_processed: int = 0
    output_expires_seconds: int | None = None
    # Lines still to answer and how to answer one; results are made lazily as time passes.
    pending: list[dict[str, Any]] | None = None
    run_line: Callable[[dict[str, Any]], LineResult] | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    materialized: bool = False
    input_filename: str = ""
    deployments: frozenset[str] = frozenset()

    def facts(self) -> Facts:
        return Facts(self.deployments, (self.input_filename,), self.metadata)

    @property
    def total(self) -> int:
        return len(self.order)

    @property
    def validated_at(self) -> float:
        return self.created + self.timings.validating

    def catch_up(self, now: float) -> None:
        if self.pending is None or self.run_line is None:
            return
        for request in self.pending[len(self.results) : self.target(now)]:
            self.add_result(self.run_line(request))
        if len(self.results) == self.total:
            self.pending = None

    def add_result(self, result: LineResult) -> None:
        self.results.append(result)
        self.ok_prefix.append(self.ok_prefix[-1] + int(result.ok))

    def interruption(self) -> tuple[str, float] | None:
        if self.cancel_at is not None:
            return "cancelled", self.cancel_at
        if self.outcome is not None:
            at = self.validated_at + self.timings.in_progress * self.outcome["fraction"]
            return self.outcome["status"], at
        return None

    def timeline(self) -> list[Phase]:
        phases = [Phase("validating", self.created)]
        stop = self.interruption()
        if stop is not None and stop[1] < self.validated_at:
            return phases + self._stopped(*stop)
        if self.errors is not None:
            return phases + [Phase("failed", self.validated_at)]
        phases.append(Phase("in_progress", self.validated_at))
        if stop is not None:
            return phases + self._stopped(*stop)
        end = max(self.validated_at + self.timings.in_progress, self.ready)
        return phases + [
            Phase("finalizing", end),
            Phase("completed", end + self.timings.finalizing),
        ]

    def _stopped(self, status: str, at: float) -> list[Phase]:
        if status == "expired":
            return [Phase("expired", at)]
        return [Phase("cancelling", at), Phase("cancelled", at + self.timings.cancelling)]

    def phases(self, now: float) -> list[Phase]:
        return [phase for phase in self.timeline() if phase.at <= now]

    def status(self, now: float) -> str:
        return self.phases(now)[-1].status

    def target(self, now: float) -> int:
        """How many lines (in processing order) should have a result at `now`."""
        if self.errors is not None or now < self.validated_at:
            return 0
        if self.cancel_at is not None:
            return self.cancel_processed
        span = self.timings.in_progress
        fraction = 1.0 if span <= 0 else min(1.0, (now - self.validated_at) / span)
        if self.outcome is not None:
            fraction = min(fraction, self.outcome["fraction"])
        # The epsilon keeps float noise from dropping a line at exact fractions.
        return int(self.total * fraction + 1e-9)

    def processed(self, now: float) -> int:
        """How many lines have a result at `now` (upstream calls may lag behind time)."""
        return min(self.target(now), len(self.results))

    def request_counts(self, now: float, status: str) -> dict[str, int]:
        cancelled_early = self.cancel_at is not None and self.cancel_at < self.validated_at
        if status in ("validating", "failed") or cancelled_early:
            return {"total": 0, "completed": 0, "failed": 0}
        done = self.processed(now)
        ok = self.ok_prefix[done]
        failed = done - ok + (self.total - done if status == "expired" else 0)
        return {"total": self.total, "completed": ok, "failed": failed}

    def to_json(self, now: float, clock: Clock) -> dict[str, Any]:
        phases = self.phases(now)
        status = phases[-1].status
        out: dict[str, Any] = {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": None,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "expires_at": self.created_at + COMPLETION_WINDOW,
            **{name: None for name in STAMPS.values()},
            "request_counts": self.request_counts(now, status),
            "metadata": self.metadata,
        }
        for phase in phases:
            if phase.status in STAMPS:
                out[STAMPS[phase.status]] = clock.epoch(phase.at)
        if status == "failed":
            out["errors"] = {"object": "list", "data": self.errors}
        return out
