"""The `Emulator` object: an in-process server on a background thread."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from . import admin
from .api import Api
from .config import EmulatorConfig
from .server import EmulatorHTTPServer


class Emulator:
    """Runs the emulator; use as a context manager or call `start()` and `stop()`."""

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.api = Api(self.config)
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Emulator:
        self.api.stopping.clear()
        self._server = EmulatorHTTPServer((self.config.host, self.config.port), self.api)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="azure-openai-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.api.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def state(self) -> dict[str, Any]:
        """Live files, deleted files, every batch and the fault rules, as
        `GET /_emulator/state` shows them."""
        return admin.state(self.api)

    def batches(self, metadata: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Every batch ever created, with its metadata, status, input file name and
        deployments; `metadata` keeps only batches whose metadata holds those values."""
        return admin.batches(self.api, metadata)

    def content(self, file_id: str) -> bytes:
        """Any file's bytes, deleted files included (KeyError for an unknown id)."""
        return admin.content(self.api, file_id)

    def set_faults(self, rules: list[dict[str, Any]], seed: int | str | None = None) -> None:
        """Replace the fault rules (raises `RuleError` on a bad rule); `seed` makes the
        rules' `probability` draws repeatable."""
        self.api.faults.replace(rules, seed)

    def clear_faults(self) -> None:
        self.api.faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        return self.api.faults.describe()

    def reset(self) -> None:
        """Forget every file, batch and fault."""
        self.api.reset()
