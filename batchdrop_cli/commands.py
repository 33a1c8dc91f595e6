"""The commands that read jobs or ask things of them: jobs, show, cancel, retry."""

from __future__ import annotations

import argparse
import getpass
import json
import socket

from rich.console import Console
from rich.text import Text

from batchdrop_cli.connect import Connection
from batchdrop_cli.find import find_job
from batchdrop_cli.views import jobs_table, show_job
from shared import http_api
from shared.jobs.listing import check_limit, check_prefix, decode_token
from shared.lifecycle.operator import Asked, ask_cancel, ask_retry
from shared.storage.outputs import folder_state


def jobs(conn: Connection, args: argparse.Namespace, console: Console) -> int:
    statuses = http_api.statuses_for(args.status)
    check_limit(args.limit)
    check_prefix(args.prefix or "")
    if args.next:
        decode_token(args.next)
    page = conn.store.list_jobs(args.limit, statuses, args.prefix or None, args.next)
    if args.json:
        views = [http_api.summary_view(j, conn.output_container) for j in page.jobs]
        print(json.dumps({"jobs": views, "next": page.next}, indent=2))
        return 0
    console.print(jobs_table(page.jobs))
    if page.next:
        console.print(f"more: batchdrop jobs --next {page.next}")
    return 0


def show(conn: Connection, args: argparse.Namespace, console: Console) -> int:
    job = find_job(conn, args.job)
    state = folder_state(conn.output, job.name)
    if args.json:
        print(json.dumps(http_api.job_view(job, conn.output_container, state), indent=2))
    else:
        show_job(console, job, conn.output_container, state)
    return 0


def cancel(conn: Connection, args: argparse.Namespace, console: Console) -> int:
    job = find_job(conn, args.job)
    return _said(console, ask_cancel(conn.store, job.job_id, _who()))


def retry(conn: Connection, args: argparse.Namespace, console: Console) -> int:
    job = find_job(conn, args.job)
    return _said(console, ask_retry(conn.checks, job.job_id, _who()))


def _said(console: Console, asked: Asked | None) -> int:
    if asked is None:  # the job vanished between finding and asking
        console.print("no such job")
        return 1
    console.print(Text(f"job {asked.job.job_id} ({asked.job.name}): {asked.message}"))
    return 0


def _who() -> str:
    """Who asked, for the request row (a name, never a secret)."""
    return f"Asked with the batchdrop CLI by {getpass.getuser()} on {socket.gethostname()}."
