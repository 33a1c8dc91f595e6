"""A second worker in a process of its own, so that a test can freeze it (SIGSTOP) mid-call:
`python -m tests.integration.attack9_worker NAME` delivers the blob event for NAME."""

from __future__ import annotations

import os
import sys

from devtools.host import FunctionHost
from tests.conftest import ROOT


def main(name: str) -> int:
    host = FunctionHost(
        ROOT, os.environ["AzureWebJobsStorage"], visibility_timeout=1, retry_delay=1
    )
    try:
        host.deliver_blob(name)
    except Exception as exc:  # noqa: BLE001 - a lost lease is what the test makes happen
        print(f"delivery failed: {type(exc).__name__}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
