"""The use cases' collaborators, built once per process from Settings."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache

from azure.storage.blob import BlobServiceClient, ContainerClient
from azure.storage.queue import QueueClient, QueueServiceClient

from shared.batches.azure_openai import OpenAIBatchService, make_client
from shared.batches.service import BatchService
from shared.config import Settings
from shared.jobs.store import JobStore, TableJobStore
from shared.storage import clients


@dataclass(frozen=True)
class Deps:
    settings: Settings
    store: JobStore
    service: BatchService
    blobs: BlobServiceClient
    queue: QueueClient
    queues: QueueServiceClient | None = None  # the poison queues' counts; None: not watched
    # A poll tick's end (time.monotonic()): once past it, a step starts no more parts and
    # waits no longer for uploads, so one big job cannot hold the tick past its budget.
    deadline: float | None = None

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    @property
    def output(self) -> ContainerClient:
        return self.blobs.get_container_client(self.settings.output_container)

    @property
    def work(self) -> ContainerClient:
        return self.blobs.get_container_client(self.settings.work_container)

    @classmethod
    def from_settings(cls, settings: Settings, service: BatchService | None = None) -> Deps:
        storage = settings.storage
        return cls(
            settings=settings,
            store=TableJobStore(clients.table_client(storage, settings.jobs_table)),
            service=service
            or OpenAIBatchService(make_client(settings), settings.openai_api_version, settings),
            blobs=clients.blob_service(storage),
            queue=clients.queue_client(storage, settings.completion_queue),
            queues=clients.queue_service(storage),
        )


@cache
def default_deps() -> Deps:
    """The process-wide Deps for the function app, from the environment."""
    return Deps.from_settings(Settings.from_env())
