"""The probes GET /api/health makes with the app's own identity: reads, and writes it undoes at
once (a blob, a queue message, a table row, a batch file at Azure OpenAI), so that a role that
may read but not write fails the check instead of the first job. Each step that fails raises
`Failed`, saying which step and what it may have left behind."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from typing import Any

import openai
import orjson

from shared.batches.azure_openai import EXPIRES_AFTER, FIRST_DATED_VERSION_WITH_EXPIRY
from shared.config import Settings

STORAGE_TRIES = {"retry_total": 1}  # a broken account should fail the check, not stall it
# Never a partition, container folder or job id the app uses (job ids are 40 hex digits).
PROBE_PREFIX = "_health/"
PROBE_PARTITION = "_health"
# Sent invisible and deleted at once; should the delete fail, the queue trigger gets it after
# this long, finds no such job and lets it go (shared/completion.py), and it expires soon after.
PROBE_HIDDEN_SECONDS = 60
PROBE_TTL_SECONDS = 120
PROBE_FILE = "batchdrop-health-probe-{tag}.jsonl"


class Failed(Exception):
    """A probe step failed: `step` says which (and what it left behind), `cause` is why."""

    def __init__(self, step: str, cause: Exception) -> None:
        super().__init__(f"{step}: {cause!r}")
        self.step, self.cause = step, cause


def step[T](what: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except Exception as exc:
        raise Failed(what, exc) from exc


def tag() -> str:
    return uuid.uuid4().hex


# --- storage ------------------------------------------------------------------------------


def blob(service: Any, name: str, write: bool) -> str:
    """List; with `write`, also write a probe blob and delete it (never in the input container,
    where a new blob would start a job)."""
    container = service.get_container_client(name)
    step(
        "listing blobs",
        lambda: next(
            iter(container.list_blobs(results_per_page=1, **STORAGE_TRIES).by_page()), None
        ),
    )
    if not write:
        return "can list blobs"
    probe = container.get_blob_client(f"{PROBE_PREFIX}{tag()}")
    step("writing a probe blob", lambda: probe.upload_blob(b"", overwrite=True, **STORAGE_TRIES))
    step(
        f"deleting the probe blob {probe.blob_name} (left behind: delete it by hand)",
        lambda: probe.delete_blob(**STORAGE_TRIES),
    )
    return "can list, write and delete blobs"


def queue(client: Any) -> str:
    """Read the queue's properties, then send a message and delete it (the app sends completion
    messages; its queue trigger deletes them)."""
    props = step(
        "reading the queue's properties", lambda: client.get_queue_properties(**STORAGE_TRIES)
    )
    body = orjson.dumps({"job_id": f"{PROBE_PARTITION}-probe-{tag()}"}).decode()
    sent = step(
        "sending a message",
        lambda: client.send_message(
            body,
            visibility_timeout=PROBE_HIDDEN_SECONDS,
            time_to_live=PROBE_TTL_SECONDS,
            **STORAGE_TRIES,
        ),
    )
    step(
        f"deleting the probe message (it expires in {PROBE_TTL_SECONDS} s)",
        lambda: client.delete_message(sent.id, sent.pop_receipt, **STORAGE_TRIES),
    )
    waiting = props.approximate_message_count or 0
    return f"can read, send and delete messages ({waiting} message(s) waiting)"


def table(client: Any) -> str:
    """Read a row, then write and delete one in a partition the app never uses."""
    step(
        "reading rows",
        lambda: next(
            iter(client.list_entities(results_per_page=1, **STORAGE_TRIES).by_page()), None
        ),
    )
    row = {"PartitionKey": PROBE_PARTITION, "RowKey": tag(), "Probe": "batchdrop health"}
    step("writing a row", lambda: client.upsert_entity(row, **STORAGE_TRIES))
    step(
        f"deleting the probe row {PROBE_PARTITION}/{row['RowKey']} (left behind: delete it by "
        "hand)",
        lambda: client.delete_entity(row["PartitionKey"], row["RowKey"], **STORAGE_TRIES),
    )
    return "can read, write and delete rows"


# --- Azure OpenAI -------------------------------------------------------------------------


def openai_access(client: openai.OpenAI, settings: Settings) -> str:
    """List batches (limit 1), then upload a one-line batch file and delete it at once: the
    calls every job makes first. Creating a batch is not probed: any batch may be billed
    (docs/deploy.md)."""
    page = step("listing batches", lambda: client.batches.list(limit=1))
    name = PROBE_FILE.format(tag=tag())
    expiry = _expiry(settings)
    uploaded = step(
        "uploading a batch file, which needs the data action files/write",
        lambda: client.files.create(
            file=(name, io.BytesIO(probe_line(settings)), "application/jsonl"),
            purpose="batch",
            expires_after=expiry,
        ),
    )
    left = "it expires in 14 days" if expiry is not openai.omit else "delete it by hand"
    step(
        f"deleting the batch file {name} ({uploaded.id}), which needs the data action "
        f"files/delete; {left}",
        lambda: client.files.delete(uploaded.id),
    )
    return (
        f"can list batches ({len(page.data)} seen), upload and delete a batch file at "
        f"{settings.openai_endpoint}"
    )


def probe_line(settings: Settings) -> bytes:
    """One valid request, never sent: the file is deleted before any batch could use it."""
    body = {
        "model": settings.default_deployment or "batchdrop-health-probe",
        "messages": [{"role": "user", "content": "batchdrop health probe (never sent)"}],
        "max_tokens": 1,
    }
    line = {"custom_id": "batchdrop-health-probe", "method": "POST", "url": "/v1/chat/completions"}
    return orjson.dumps({**line, "body": body}) + b"\n"


def _expiry(settings: Settings) -> Any:
    # The file expires by itself should its delete fail (shared/batches/azure_openai.py).
    version = settings.openai_api_version
    return (
        EXPIRES_AFTER
        if version is None or version >= FIRST_DATED_VERSION_WITH_EXPIRY
        else openai.omit
    )
