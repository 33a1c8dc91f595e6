"""Named crash points: no-ops in production, a simulated process death when a test arms one."""

from __future__ import annotations

ARMED: set[str] = set()


class Crash(BaseException):
    """A simulated crash: a BaseException, so no `except Exception` recovery code sees it."""


def crashpoint(name: str) -> None:
    """Die here if a test armed this point (once); otherwise do nothing."""
    if name in ARMED:
        ARMED.discard(name)
        raise Crash(name)
