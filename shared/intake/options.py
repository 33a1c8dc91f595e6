"""How to read one input file: default deployment, limits, allow-list and the folder's settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.config import default_int
from shared.intake.folder_settings import FolderSettings
from shared.intake.lines import MAX_LINE_BYTES
from shared.intake.model import URL_FOR


@dataclass(frozen=True)
class IntakeOptions:
    """The app's defaults unless the caller (prepare, from Settings) says otherwise."""

    default_deployment: str | None = None
    max_requests: int = default_int("BATCH_MAX_REQUESTS")
    max_bytes: int = default_int("BATCH_MAX_BYTES")
    max_file_requests: int = default_int("BATCH_MAX_FILE_REQUESTS")  # more: the file is rejected
    max_tokens: int = default_int("BATCH_MAX_TOKENS")  # estimated tokens per batch; 0: no limit
    allowed_deployments: frozenset[str] = frozenset()
    settings: FolderSettings = field(default_factory=FolderSettings)

    @property
    def deployment(self) -> str | None:
        """The folder's deployment, else the app's default."""
        return self.settings.deployment or self.default_deployment

    @property
    def url(self) -> str:
        """The url of requests that name none: the folder's endpoint, else chat completions."""
        return URL_FOR[self.settings.endpoint or "chat"]

    @property
    def max_line(self) -> int:
        return min(self.max_bytes, MAX_LINE_BYTES)
