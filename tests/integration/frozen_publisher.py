"""A completion worker in a process of its own, so that a test can freeze it (SIGSTOP) while it
publishes: `python -m tests.integration.frozen_publisher` drains the completion queue. Its
first output write, once the lease was renewed for it, says PUBLISHING on stdout and waits two
seconds, for the test to freeze it there: inside the folder's marker lease, its write not yet
sent (the worst moment). The marker's lease is 15 s here (the shortest Blob
Storage allows) instead of 60 s, only to keep the test short."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from devtools.host import FunctionHost
from shared.storage import ownership
from tests.conftest import ROOT

_original = ownership.put_file
_said = False


def _announced(container: Any, name: str, path: Path, overwrite: bool) -> str | None:
    global _said
    if not _said:
        _said = True
        print("PUBLISHING", flush=True)
        time.sleep(2.0)
    return _original(container, name, path, overwrite)


def main() -> int:
    ownership.LEASE_SECONDS = 15
    ownership.put_file = _announced
    host = FunctionHost(ROOT, os.environ["AzureWebJobsStorage"], visibility_timeout=60)
    try:
        host.drain_queue()
    except Exception as exc:  # noqa: BLE001 - a lost lease is what the test makes happen
        print(f"completion failed: {type(exc).__name__}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
