"""Named crash points: no-ops in production, a simulated process death when a test arms one."""

from __future__ import annotations

from collections.abc import Callable

ARMED: set[str] = set()
# Called with the point's name just before an armed point crashes (a test's last look).
BEFORE_CRASH: list[Callable[[str], None]] = []


class Crash(BaseException):
    """A simulated crash: a BaseException, so no `except Exception` recovery code sees it."""


def crashpoint(name: str) -> None:
    """Die here if a test armed this point (once); otherwise do nothing."""
    if name in ARMED:
        ARMED.discard(name)
        for watcher in BEFORE_CRASH:
            watcher(name)
        raise Crash(name)
