"""Where the CLI finds storage: flags first, then the environment. A connection string
(Azurite, or an account with keys) or the account's URL with the person's Entra ID login
(`az login`, or any DefaultAzureCredential source): never a key in Azure."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from azure.storage.blob import BlobServiceClient, ContainerClient

from shared.config import DEFAULTS, STORAGE, StorageSettings
from shared.jobs.store import TableJobStore
from shared.lifecycle.reopen import Storage
from shared.storage import clients

CONNECTION = "BATCHDROP_CONNECTION_STRING"
ACCOUNT_URL = "BATCHDROP_ACCOUNT_URL"
TABLE_URL = "BATCHDROP_TABLE_URL"
NAMES = {
    "input_container": "BATCH_INPUT_CONTAINER",
    "output_container": "BATCH_OUTPUT_CONTAINER",
    "work_container": "BATCH_WORK_CONTAINER",
    "table": "BATCH_JOBS_TABLE",
}
MISSING = (
    f"no storage given: pass --connection-string (Azurite: `{CONNECTION}` or `{STORAGE}`) or "
    f"--account-url https://<account>.blob.core.windows.net (`{ACCOUNT_URL}`; you sign in "
    "with `az login`)"
)


TIMEOUT = "BATCHDROP_STORAGE_TIMEOUT"
DEFAULT_TIMEOUT = 10.0  # seconds; an Azure Table query answers within 5 s, or pages on
CONNECT_AT_MOST = 5.0  # a connection that is not made in 5 s is not coming


def client_options(timeout: float) -> dict[str, float | int]:
    """A person waits at the terminal: storage that does not answer is said in seconds, not
    after the SDK's ten retries with back-off. The read timeout bounds each wait for bytes (a
    big download still takes its time); a refused connection is tried once more, a request
    storage took and never answered is not (that would double the wait)."""
    return {
        "connection_timeout": min(timeout, CONNECT_AT_MOST),
        "read_timeout": timeout,
        "retry_total": 1,
        "retry_connect": 1,
        "retry_read": 0,
        "retry_status": 1,
    }


# Blob storage's own retry waits 15 s before its first retry by default.
BLOB_BACKOFF = {"initial_backoff": 1, "increment_base": 1}


class ConnectError(ValueError):
    """Nothing says which storage to use, or what was given cannot be used."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("storage (flags, else the environment)")
    where.add_argument("--connection-string", help=f"Azurite or a key-based account ({CONNECTION})")
    where.add_argument("--account", help="the storage account's name: its URLs in public Azure")
    where.add_argument("--account-url", help=f"the account's blob endpoint ({ACCOUNT_URL})")
    where.add_argument("--table-url", help=f"the table endpoint if not derived ({TABLE_URL})")
    for name, setting in NAMES.items():
        flag = "--" + name.replace("_", "-")
        where.add_argument(flag, help=f"({setting}, default {DEFAULTS[setting]})")
    where.add_argument(
        "--storage-timeout",
        type=float,
        metavar="SECONDS",
        help=f"how long to wait for storage to answer ({TIMEOUT}, default {DEFAULT_TIMEOUT:g})",
    )


@dataclass(frozen=True)
class Connection:
    storage: StorageSettings
    input_container: str
    output_container: str
    work_container: str
    table: str
    source: str = CONNECTION  # the flag or variable the storage came from, for error messages
    timeout: float = DEFAULT_TIMEOUT  # seconds storage has to answer each request

    @classmethod
    def from_args(
        cls, args: argparse.Namespace, env: Mapping[str, str] | None = None
    ) -> Connection:
        env = os.environ if env is None else env
        names = {
            name: getattr(args, name, None) or env.get(setting) or str(DEFAULTS[setting])
            for name, setting in NAMES.items()
        }
        storage, source = _storage(args, env)
        timeout = _timeout(getattr(args, "storage_timeout", None), env.get(TIMEOUT))
        return cls(storage=storage, source=source, timeout=timeout, **names)

    @cached_property
    def blobs(self) -> BlobServiceClient:
        return clients.blob_service(self.storage, **client_options(self.timeout), **BLOB_BACKOFF)

    @cached_property
    def store(self) -> TableJobStore:
        options = client_options(self.timeout)
        return TableJobStore(clients.table_client(self.storage, self.table, **options))

    @property
    def endpoint(self) -> str:
        """The blob endpoint, as a person would recognise it (no key)."""
        return self.storage.service_uris.get("blob") or self.blobs.url

    @property
    def inputs(self) -> ContainerClient:
        return self.blobs.get_container_client(self.input_container)

    @property
    def output(self) -> ContainerClient:
        return self.blobs.get_container_client(self.output_container)

    @property
    def checks(self) -> Storage:
        """What a retry's checks read (shared/lifecycle/reopen.py)."""
        work = self.blobs.get_container_client(self.work_container)
        return Storage(self.store, self.blobs, self.output, work)


def _storage(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[StorageSettings, str]:
    """Flags first, then the CLI's own variables, then the app's AzureWebJobsStorage; and
    which of them it was."""
    account = f"https://{args.account}.blob.core.windows.net" if args.account else None
    given = [
        ("connection", "--connection-string", args.connection_string),
        ("url", "--account-url" if args.account_url else "--account", args.account_url or account),
        ("connection", CONNECTION, env.get(CONNECTION)),
        ("url", ACCOUNT_URL, env.get(ACCOUNT_URL)),
        ("connection", STORAGE, env.get(STORAGE)),
    ]
    kind, source, value = next(
        ((k, s, v.strip()) for k, s, v in given if v and v.strip()), ("", "", "")
    )
    if kind == "connection":
        return StorageSettings(connection_string=value), source
    if not value:
        raise ConnectError(MISSING)
    blob = value.rstrip("/")
    table = (args.table_url or env.get(TABLE_URL) or _table_url(blob)).rstrip("/")
    return StorageSettings(service_uris={"blob": blob, "table": table}), source


def _timeout(flag: float | None, variable: str | None) -> float:
    """--storage-timeout, else BATCHDROP_STORAGE_TIMEOUT, else the default: seconds, above 0."""
    given = flag if flag is not None else (variable or "").strip() or DEFAULT_TIMEOUT
    try:
        seconds = float(given)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise ConnectError(
            f"storage timeout {given!r} (--storage-timeout, {TIMEOUT}): give seconds above 0"
        )
    return seconds


def _table_url(blob_url: str) -> str:
    if ".blob." not in blob_url:
        raise ConnectError(f"cannot derive the table endpoint from {blob_url}: pass --table-url")
    return blob_url.replace(".blob.", ".table.", 1)
