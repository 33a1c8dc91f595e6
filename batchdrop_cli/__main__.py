"""`batchdrop` (or `python -m batchdrop_cli`): submit files, list, show, watch, cancel and
retry jobs, and get their results, straight from storage."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from rich.console import Console

from batchdrop_cli import commands, connect, results, submit, watch
from batchdrop_cli.connect import Connection
from batchdrop_cli.find import find_job
from shared.lifecycle.operator import NotAllowed

Command = Callable[[Connection, argparse.Namespace, Console], int]
ROLES = "Storage Blob Data Contributor and Storage Table Data Contributor"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="batchdrop", description=__doc__)
    connect.add_arguments(top)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser("submit", help="upload files or folders; --wait follows their jobs")
    s.add_argument("paths", nargs="+", type=Path, metavar="FILE|FOLDER")
    s.add_argument("--to", default="", help="folder in the input container (default: its root)")
    s.add_argument("--wait", action="store_true", help="a progress bar per job until all end")
    _following(s)
    s.set_defaults(run=submit.submit)
    j = sub.add_parser("jobs", help="jobs, newest first")
    j.add_argument("--status", help="open (not finished) or one state")
    j.add_argument("--prefix", help="only inputs whose name starts with this")
    j.add_argument("--limit", type=int, default=20)
    j.add_argument("--next", help="the token the previous page printed")
    j.add_argument("--json", action="store_true", help="the HTTP API's JSON")
    j.set_defaults(run=commands.jobs)
    for name, run, what in (
        ("show", commands.show, "one job: batches, last error, requests, outputs"),
        ("cancel", commands.cancel, "ask the job's worker to cancel it"),
        ("retry", commands.retry, "send every failed request of a finished job again"),
    ):
        c = sub.add_parser(name, help=what)
        c.add_argument("job", metavar="JOB|BLOB", help="a job id (or its start) or an input name")
        if name == "show":
            c.add_argument("--json", action="store_true", help="the HTTP API's JSON")
        c.set_defaults(run=run)
    w = sub.add_parser("watch", help="follow jobs until they end (none given: the open ones)")
    w.add_argument("jobs", nargs="*", metavar="JOB|BLOB")
    _following(w, timeout=None)
    w.set_defaults(run=_watch)
    r = sub.add_parser("results", help="preview a job's results, or download them with --out")
    r.add_argument("job", metavar="JOB|BLOB")
    r.add_argument("--csv", action="store_true", help="results.csv instead of results.jsonl")
    r.add_argument("--out", type=Path, help="download into this folder")
    r.add_argument("--rows", type=int, default=10, help="rows previewed (default 10)")
    r.set_defaults(run=results.results)
    return top


def _following(p: argparse.ArgumentParser, timeout: float | None = 3600) -> None:
    p.add_argument("--timeout", type=float, default=timeout, help="seconds to follow at most")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between looks")


def _watch(conn: Connection, args: argparse.Namespace, console: Console) -> int:
    if not args.jobs:
        return watch.open_jobs(conn, console, args.timeout, args.interval)
    jobs = [find_job(conn, given) for given in args.jobs]
    timeout = args.timeout if args.timeout is not None else float("inf")
    return watch.follow(conn, [(j.job_id, j.name) for j in jobs], console, timeout, args.interval)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    console = Console()
    try:
        run: Command = args.run
        return run(Connection.from_args(args), args, console)
    except KeyboardInterrupt:
        return 130
    except (ValueError, LookupError, NotAllowed, FileNotFoundError) as exc:
        return _fail(str(exc))
    except ClientAuthenticationError as exc:
        return _fail(f"not signed in to Azure ({exc.message}); run `az login`")
    except HttpResponseError as exc:
        hint = f"; your identity needs {ROLES} on the account" if exc.status_code == 403 else ""
        return _fail(f"storage answered {exc.status_code}: {exc.reason}{hint}")


def _fail(message: str) -> int:
    print(f"batchdrop: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
