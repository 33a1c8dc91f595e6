"""`batchdrop` (or `python -m batchdrop_cli`): submit files, list, show, watch, cancel and
retry jobs, and get their results, straight from storage."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
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
    r.add_argument("--rows", type=results.preview_rows, default=10,
                   help=f"rows previewed, 1 to {results.MAX_ROWS} (default 10)")  # fmt: skip
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
    # The Azure SDKs log warnings (a credential's every attempt) that Python would print to
    # stderr for want of a handler: the CLI says what went wrong in one line of its own.
    logging.getLogger("azure").addHandler(logging.NullHandler())
    console = Console(emoji=False)  # `:x:` in a name stays `:x:`
    conn: Connection | None = None
    try:
        run: Command = args.run
        conn = Connection.from_args(args)
        return run(conn, args, console)
    except KeyboardInterrupt:
        return 130
    except (ValueError, LookupError, NotAllowed, FileNotFoundError) as exc:
        return _fail(str(exc))
    except ClientAuthenticationError as exc:
        first = (exc.message or type(exc).__name__).strip().splitlines()[0]
        return _fail(f"not signed in to Azure ({first}); run `az login`")
    except HttpResponseError as exc:
        return _fail(_refused(conn, exc))
    except (ServiceRequestError, ServiceResponseError) as exc:
        return _fail(_no_answer(conn, exc))
    except OSError as exc:  # a local file or folder given (submit, results --out)
        return _fail(_local(exc))


# What to check when storage answers 404 with one of these codes.
NOT_FOUND = {
    "TableNotFound": "--table (BATCH_JOBS_TABLE)",
    "ContainerNotFound": "--input-container, --output-container, --work-container "
    "(BATCH_INPUT_CONTAINER, ...)",
}


def _refused(conn: Connection | None, exc: HttpResponseError) -> str:
    # The SDKs give an enum (TableErrorCode, StorageErrorCode) whose str() is its Python name
    # (TableErrorCode.TABLE_NOT_FOUND): the service's own code is its value.
    given = getattr(exc, "error_code", None) or ""
    code = str(getattr(given, "value", given))
    said = f"storage answered {exc.status_code} ({code or exc.reason})"
    if exc.status_code == 403:
        return f"{said}: your identity needs {ROLES} on the account"
    check = NOT_FOUND.get(code) or (conn.source if conn is not None else "the storage given")
    return f"{said}: is {check} right?"


def _no_answer(conn: Connection | None, exc: Exception) -> str:
    """Storage did not answer (not running, a wrong address, no network): one line naming
    where the address came from."""
    reason = " ".join(str(exc).split())
    why = reason.rsplit(": ", 1)[-1][:120] or type(exc).__name__
    if conn is None:
        return f"storage does not answer ({why})"
    if "timed out" in reason.lower():  # it was waited for: say how long, and how to wait more
        why = f"silent for {conn.timeout:g} s; --storage-timeout SECONDS waits longer"
    return (
        f"storage at {conn.endpoint} does not answer ({why}): is it running "
        f"(Azurite: `npx azurite`), and is {conn.source} right?"
    )


def _local(exc: OSError) -> str:
    """A local path that could not be read or written, named, with what to check."""
    where = f"{exc.filename}: " if exc.filename else ""
    said = exc.strerror or str(exc)
    check = "check that path (it exists, is a file or a folder as asked, and you may use it)"
    return f"{where}{said}: {check}"


def _fail(message: str) -> int:
    """One line on stderr, exit code 1."""
    print(f"batchdrop: {' '.join(message.split())}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
