"""Configuration objects for the Azure OpenAI batch emulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

MB = 1024 * 1024


@dataclass(frozen=True)
class Timings:
    """Seconds each lifecycle phase lasts; the CLI defaults are demo-friendly."""

    file_processing: float = 1.0
    validating: float = 2.0
    in_progress: float = 5.0
    finalizing: float = 1.0
    cancelling: float = 2.0

    def scaled(self, speed: float) -> Timings:
        """Durations divided by `speed` (2.0 runs twice as fast)."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        return replace(
            self,
            file_processing=self.file_processing / speed,
            validating=self.validating / speed,
            in_progress=self.in_progress / speed,
            finalizing=self.finalizing / speed,
            cancelling=self.cancelling / speed,
        )


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator needs; all limits mirror Azure's documented defaults."""

    port: int = 0
    host: str = "127.0.0.1"
    # The `api-key` header must equal this; None refuses every key (key access disabled).
    api_key: str | None = None
    # Bearer tokens must be HS256 JWTs signed with this secret (see auth.py); None refuses all.
    entra_secret: str | None = None
    # `Authorization: Bearer <admin_token>` opens `/_emulator/...`; None keeps them closed.
    admin_token: str | None = None
    # None accepts any deployment name; a set makes unknown names fail as `model_not_found`.
    deployments: frozenset[str] | None = None
    timings: Timings = field(default_factory=Timings)
    speed: float = 1.0
    upstream: str | None = None
    upstream_timeout: float = 60.0
    max_requests_per_file: int = 100_000
    max_file_bytes: int = 200 * MB
    max_files_without_expiry: int = 500
    max_files_with_expiry: int = 10_000
    # Azure reports at most this many validation errors on a failed batch.
    max_reported_errors: int = 50
    # Seconds every `/openai/...` call waits before it is answered, like a network round trip.
    latency: float = 0.0
    verbose: bool = False
    # Deleted files stay readable through `Emulator.content()` and `state()["deleted_files"]`.
    keep_deleted_files: bool = True
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time

    def effective_timings(self) -> Timings:
        return self.timings.scaled(self.speed)
