"""`python -m devtools.host`: run function_app.py through the Python Functions runtime, like
`func start`; `--check` only indexes and loads it and checks its bindings, as Azure does when
the app starts."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .bindings import BindingError
from .http import serve
from .runner import FunctionHost
from .settings import load_local_settings
from .worker import AppLoadError, RuntimeWorker


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Every storage request at INFO would bury the functions' own lines in the log.
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    load_local_settings(args.settings)
    try:
        worker = RuntimeWorker.start(args.app_dir)
    except AppLoadError as exc:
        print(f"function_app.py did not load: {exc}", file=sys.stderr)
        return 1
    # The first line on stdout is "host ready" (scripts wait for it); the rest goes to the log.
    print(describe(worker), file=sys.stdout if args.check else sys.stderr, flush=True)
    if not os.environ.get("AzureWebJobsStorage"):
        print(
            "AzureWebJobsStorage is not set: put a connection string in the environment or "
            "in local.settings.json (see local.settings.sample.json).",
            file=sys.stderr,
        )
        return 2
    host = FunctionHost(worker.app_dir)
    problems = host.check()
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    if args.check:
        return 0
    return _run(host, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools.host", description=__doc__)
    parser.add_argument("--port", type=int, default=7071, help="HTTP port for /api/... routes")
    parser.add_argument("--settings", type=Path, default=Path("local.settings.json"))
    parser.add_argument(
        "--app-dir", type=Path, default=Path.cwd(), help="folder of function_app.py"
    )
    parser.add_argument("--check", action="store_true", help="load and check, then exit")
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        help="seconds between scans for new blobs and queue messages",
    )
    return parser


def describe(worker: RuntimeWorker) -> str:
    """What the runtime indexed: one line per function and binding, like the host's log."""
    lines = [f"{len(worker.functions)} functions loaded by the Python runtime:"]
    for fn in worker.functions.values():
        parts = ", ".join(
            f"{b['name']} ({b['type']}, {str(b['direction']).lower()})" for b in fn.bindings
        )
        lines.append(f"  {fn.name}: {parts}")
    return "\n".join(lines)


def _run(host: FunctionHost, args: argparse.Namespace) -> int:
    # batchdrop's own containers, queue and table (the Bicep creates them in Azure).
    from shared.config import Settings
    from shared.storage import clients

    clients.ensure_resources(Settings.from_env())
    server = serve(host, port=args.port)
    try:
        print(
            f"host ready: functions on http://127.0.0.1:{server.server_port}/"
            f"{host.config.route_prefix}/, timer {host.schedule()!r}, watching container "
            f"{host.blob_container()!r}",
            flush=True,
        )
        host.run(args.interval)
    except KeyboardInterrupt:
        pass
    except BindingError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
