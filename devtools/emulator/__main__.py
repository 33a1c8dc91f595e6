"""Command line: `python -m devtools.emulator --port N`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

import orjson

from .config import EmulatorConfig, Timings
from .emulator import Emulator
from .rules import COMMON_FIELDS, KINDS

PHASES = ("file_processing", "validating", "in_progress", "finalizing", "cancelling")


def fault_help() -> str:
    """One line per fault kind, with its fields (the README's table says more)."""
    width = max(len(name) for name in KINDS)
    lines = [
        "fault kinds (for --fault, --faults-file and POST /_emulator/faults):",
        *(
            f"  {name:<{width}}  {spec.summary}; fields: {', '.join(spec.fields)}"
            for name, spec in KINDS.items()
        ),
        f"every rule also takes: {', '.join(COMMON_FIELDS[1:])}",
        "(see devtools/emulator/README.md)",
    ]
    return "\n".join(lines)


def _add_timing(parser: argparse.ArgumentParser) -> None:
    defaults = Timings()
    group = parser.add_argument_group("timing (seconds each phase lasts, before --speed)")
    for phase in PHASES:
        flag = "--" + phase.replace("_", "-")
        default = getattr(defaults, phase)
        group.add_argument(flag, type=float, default=default, metavar="S", help=f"({default:g})")
    group.add_argument("--speed", type=float, default=1.0, help="time multiplier; 2 = faster")
    group.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to every /openai/... call"
    )


def _add_access(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("access")
    group.add_argument("--api-key", default=None, help="the api-key (none: keys are refused)")
    group.add_argument(
        "--entra-secret", default=None, help="HS256 secret Entra ID stand-in tokens are signed with"
    )
    group.add_argument(
        "--admin-token", default=None, help="opens /_emulator/... to 'Bearer TOKEN' (else off)"
    )


def _add_faults(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("faults")
    group.add_argument(
        "--fault", action="append", default=[], metavar="JSON", help="a fault rule (repeatable)"
    )
    group.add_argument("--faults-file", type=Path, help="a JSON list of fault rules")
    group.add_argument("--fault-seed", default=None, help="seed for the rules' probability")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.emulator",
        description="Local emulator of the Azure OpenAI Files and Global Batch APIs.",
        epilog=fault_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--deployments", default=None, help="comma-separated deployment names (default: any)"
    )
    parser.add_argument("--max-requests-per-file", type=int, default=100_000)
    parser.add_argument("--upstream", default=None, help="OpenAI-compatible base URL")
    parser.add_argument(
        "--drop-deleted-files", action="store_true", help="forget deleted files' contents"
    )
    parser.add_argument("--verbose", action="store_true", help="log request lines to stderr")
    _add_timing(parser)
    _add_access(parser)
    _add_faults(parser)
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> EmulatorConfig:
    deployments = None
    if args.deployments:
        deployments = frozenset(d.strip() for d in args.deployments.split(",") if d.strip())
    return EmulatorConfig(
        port=args.port,
        host=args.host,
        api_key=args.api_key,
        entra_secret=args.entra_secret,
        admin_token=args.admin_token,
        deployments=deployments,
        timings=Timings(**{phase: getattr(args, phase) for phase in PHASES}),
        speed=args.speed,
        upstream=args.upstream,
        latency=args.latency,
        max_requests_per_file=args.max_requests_per_file,
        verbose=args.verbose,
        keep_deleted_files=not args.drop_deleted_files,
    )


def rules_from(args: argparse.Namespace) -> list[dict]:
    rules = orjson.loads(args.faults_file.read_bytes()) if args.faults_file else []
    if not isinstance(rules, list):
        raise SystemExit("--faults-file must hold a JSON list of rules")
    return rules + [orjson.loads(rule) for rule in args.fault]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    emulator = Emulator(config_from(args))
    try:
        emulator.set_faults(rules_from(args), args.fault_seed)
    except (ValueError, OSError) as exc:  # RuleError and bad JSON are ValueErrors
        raise SystemExit(f"bad fault rules: {exc}") from exc
    with emulator:
        print(f"Azure OpenAI batch emulator listening on {emulator.url}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
