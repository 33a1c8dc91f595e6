"""`python -m devtools.host`: run function_app.py's triggers locally, like `func start`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .http import serve
from .runner import FunctionHost
from .settings import load_local_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.host", description=__doc__)
    parser.add_argument("--port", type=int, default=7071, help="HTTP port for /api/... routes")
    parser.add_argument("--settings", type=Path, default=Path("local.settings.json"))
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        help="seconds between scans for new blobs and queue messages",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    load_local_settings(args.settings)
    if not os.environ.get("AzureWebJobsStorage"):
        print(
            "AzureWebJobsStorage is not set: put a connection string in the environment or "
            "in local.settings.json (see local.settings.sample.json).",
            file=sys.stderr,
        )
        return 2
    sys.path.insert(0, os.getcwd())
    import function_app  # after the settings are loaded, as the host does
    from shared.config import Settings
    from shared.storage import clients

    clients.ensure_resources(Settings.from_env())
    host = FunctionHost(function_app.app)
    server = serve(function_app.app, port=args.port)
    print(
        f"host ready: functions on http://127.0.0.1:{server.server_port}/api/, timer "
        f"{host.schedule()!r}, watching container {host.blob_container()!r}",
        flush=True,
    )
    try:
        host.run(args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
