"""Builds the Azure SDK clients from Settings: a connection string locally, identity in Azure."""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.request import getproxies

import requests
from azure.core.exceptions import ResourceExistsError
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, QueueServiceClient, TextBase64EncodePolicy
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from shared.config import Settings, StorageSettings


@cache
def _credential(client_id: str | None) -> Any:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=client_id)


STORAGE_SCOPE = "https://storage.azure.com/.default"  # blob, queue and table alike


def storage_credential(storage: StorageSettings) -> Any:
    """The identity the clients below use; None with a connection string."""
    return None if storage.connection_string else _credential(storage.client_id)


# The SDK fetches the first 32 MiB of a download in one piece by default; smaller pieces keep
# the streaming reads of 200 MB inputs well inside a 512 MB instance.
CHUNK = 4 << 20


def blob_service(storage: StorageSettings, **options: Any) -> BlobServiceClient:
    """`options`: the SDK's client options (the CLI's short timeouts and retries)."""
    if storage.connection_string:
        return BlobServiceClient.from_connection_string(
            storage.connection_string,
            max_single_get_size=CHUNK,
            max_chunk_get_size=CHUNK,
            **options,
        )
    return BlobServiceClient(
        storage.service_uris["blob"],
        credential=_credential(storage.client_id),
        max_single_get_size=CHUNK,
        max_chunk_get_size=CHUNK,
        **options,
    )


TIMEOUTS = ("connection_timeout", "read_timeout")  # the transport's, not the client's


def _transport(**timeouts: float) -> RequestsTransport:
    """One shared session for the job table, which a poll tick calls from many threads: a pool
    as large as the tick's concurrency, and no proxy lookup per request unless one is set."""
    session = requests.Session()
    session.trust_env = bool(getproxies())
    # azure-core retries itself; urllib3 must not retry underneath it.
    adapter = HTTPAdapter(
        pool_maxsize=64, max_retries=Retry(total=False, redirect=False, raise_on_status=False)
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return RequestsTransport(session=session, session_owner=False, **timeouts)


def table_client(storage: StorageSettings, table: str, **options: Any) -> TableClient:
    """`options`: the SDK's client options, timeouts included (the CLI's short ones)."""
    timeouts = {k: options.pop(k) for k in TIMEOUTS if k in options}
    if storage.connection_string:
        service = TableServiceClient.from_connection_string(
            storage.connection_string, transport=_transport(**timeouts), **options
        )
    else:
        service = TableServiceClient(
            storage.service_uris["table"],
            credential=_credential(storage.client_id),
            transport=_transport(**timeouts),
            **options,
        )
    return service.get_table_client(table)


def queue_client(storage: StorageSettings, queue: str) -> QueueClient:
    # The Functions host decodes queue messages as base64 by default (host.json).
    policy = TextBase64EncodePolicy()
    if storage.connection_string:
        return QueueClient.from_connection_string(
            storage.connection_string, queue, message_encode_policy=policy
        )
    return QueueClient(
        storage.service_uris["queue"],
        queue,
        credential=_credential(storage.client_id),
        message_encode_policy=policy,
    )


def queue_service(storage: StorageSettings) -> QueueServiceClient:
    """For reading other queues' properties (the poison queues); no messages are sent."""
    if storage.connection_string:
        return QueueServiceClient.from_connection_string(storage.connection_string)
    return QueueServiceClient(
        storage.service_uris["queue"], credential=_credential(storage.client_id)
    )


def ensure_resources(settings: Settings) -> None:
    """Create containers, table and queue if missing (Bicep creates them in Azure)."""
    service = blob_service(settings.storage)
    for name in (settings.input_container, settings.output_container, settings.work_container):
        container = service.get_container_client(name)
        if not container.exists():
            container.create_container()
    try:
        table_client(settings.storage, settings.jobs_table).create_table()
    except ResourceExistsError:
        pass
    try:
        queue_client(settings.storage, settings.completion_queue).create_queue()
    except ResourceExistsError:
        pass
