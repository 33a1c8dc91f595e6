"""Command line: `python -m devtools.emulator --port N`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

from .config import EmulatorConfig, Timings
from .emulator import Emulator
from .faults import KINDS, RuleError

FAULTS_HELP = f"""\
fault injection:
  --faults sets rules at start; while it runs, POST a JSON list of rules to
  /_emulator/faults (GET lists them, DELETE clears them). Each rule is
  {{"kind": ..., "times"?: N, ...}}, kind one of:
{textwrap.fill(", ".join(KINDS), 76, initial_indent="    ", subsequent_indent="    ")}
  e.g. [{{"kind": "line_failure", "custom_id": "^row-1", "status_code": 429, "attempts": 1}}]
  Every kind's fields: devtools/emulator/README.md ("Fault injection").
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.emulator",
        description="Local emulator of the Azure OpenAI Files and Global Batch APIs.",
        epilog=FAULTS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api-key", default=None, help="required value of the api-key header")
    parser.add_argument(
        "--deployments", default=None, help="comma-separated deployment names (default: any)"
    )
    parser.add_argument("--max-requests-per-file", type=int, default=100_000)
    parser.add_argument("--speed", type=float, default=1.0, help="time multiplier; 2 = faster")
    parser.add_argument("--upstream", default=None, help="OpenAI-compatible base URL")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to every /openai/... call"
    )
    parser.add_argument("--verbose", action="store_true", help="log request lines to stderr")
    parser.add_argument(
        "--faults",
        type=_rules,
        default=None,
        metavar="JSON|@FILE",
        help="fault rules to start with: a JSON list, or @ and a file holding one (see below)",
    )
    return parser.parse_args(argv)


def _rules(value: str) -> list[Any]:
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        rules = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
    if not isinstance(rules, list):
        raise argparse.ArgumentTypeError('a JSON list of rules, e.g. [{"kind": "http"}]')
    return rules


def config_from(args: argparse.Namespace) -> EmulatorConfig:
    deployments = None
    if args.deployments:
        deployments = frozenset(d.strip() for d in args.deployments.split(",") if d.strip())
    return EmulatorConfig(
        port=args.port,
        host=args.host,
        api_key=args.api_key,
        deployments=deployments,
        timings=Timings(),
        speed=args.speed,
        upstream=args.upstream,
        latency=args.latency,
        max_requests_per_file=args.max_requests_per_file,
        verbose=args.verbose,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Emulator(config_from(args)) as emulator:
        if args.faults:
            try:
                emulator.set_faults(args.faults)
            except RuleError as exc:
                print(f"--faults: {exc}", file=sys.stderr)
                return 2
        print(f"Azure OpenAI batch emulator listening on {emulator.url}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
