"""The local Functions host: finds blob events, timer ticks and queue messages and delivers
each through the runtime library, with the host's own rules (function and binding names,
settings, connections per storage service, the Event Grid blob source and path patterns,
NCRONTAB, host.json queue options, five tries then the poison queue)."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobServiceClient
from azure.storage.queue import QueueClient, QueueMessage

from . import bindings, blobpath, names, payloads, protocol
from .bindings import BindingError, HostConfig
from .worker import LoadedFunction, RuntimeWorker

log = logging.getLogger("devtools.host")

BLOB_POISON_QUEUE = "webjobs-blobtrigger-poison"
SUPPORTED = ("blobTrigger", "timerTrigger", "queueTrigger", "httpTrigger")


class FunctionHost:
    """A stand-in for the Functions host around the real Python runtime: same bindings, same
    payloads, same retry rules, no Core Tools."""

    def __init__(
        self,
        app_dir: Path | str,
        connection_string: str | None = None,
        visibility_timeout: int = 30,
        retry_delay: float | None = None,
    ) -> None:
        self.worker = RuntimeWorker.start(app_dir)
        self.config = HostConfig.read(self.worker.app_dir)
        self.visibility_timeout = visibility_timeout  # how long a received message is leased
        # host.json's visibilityTimeout: the wait before a failed message is tried again.
        default_delay = self.config.queues.visibility_timeout
        self.retry_delay = default_delay if retry_delay is None else retry_delay
        self.connection = connection_string or os.environ["AzureWebJobsStorage"]
        self.blobs = BlobServiceClient.from_connection_string(self.connection)
        self.seen: set[tuple[str, str]] = set()
        self.stop_event = threading.Event()
        self.on_event: Callable[[str], None] = lambda _line: None
        self.last_tick: datetime | None = None

    @property
    def app(self) -> RuntimeWorker:
        """The app as the runtime loaded it (what `serve` routes to)."""
        return self.worker

    def _only(self, trigger_type: str) -> LoadedFunction:
        found = self.worker.by_trigger(trigger_type)
        if len(found) != 1:
            raise LookupError(f"expected one {trigger_type} function, found {len(found)}")
        return found[0]

    def check(self) -> list[str]:
        """Every problem Azure would report when the host starts: names the host refuses,
        unsupported triggers, settings that do not resolve, missing connections, blob sources
        and paths Flex Consumption cannot run, invalid schedules."""
        problems = []
        for fn in self.worker.functions.values():
            found = names.binding_name_problems(fn.bindings)
            name_problem = names.function_name_problem(fn.name)
            if name_problem:
                found.insert(0, name_problem)
            if not found:
                try:
                    self._check_function(fn)
                except (BindingError, ValueError) as exc:
                    found.append(str(exc))
            problems += [f"The '{fn.name}' function is in error: {p}" for p in found]
        return problems

    def _check_function(self, fn: LoadedFunction) -> None:
        trigger = fn.trigger
        if fn.trigger_type not in SUPPORTED:
            raise BindingError(f"trigger type {fn.trigger_type} is not supported by the local host")
        for key in ("path", "queueName", "schedule", "route"):
            if key in trigger:
                bindings.resolve(str(trigger[key]))
        if fn.trigger_type == "blobTrigger":
            self._check_blob(fn)
        if fn.trigger_type == "queueTrigger":
            bindings.check_connection(bindings.connection_name(trigger), fn.trigger_type)
        if fn.trigger_type == "timerTrigger":
            bindings.schedule(bindings.resolve(str(trigger["schedule"])))

    def _check_blob(self, fn: LoadedFunction) -> blobpath.BlobPath:
        """The blob trigger as Flex Consumption runs it: the Event Grid source only, a path
        the blob extension accepts, a connection with blob and queue services."""
        source = str(fn.trigger.get("source") or "LogsAndContainerScan")
        if source.lower() != "eventgrid":
            raise BindingError(
                f"the blob trigger's source is {source} (polling), and Flex Consumption runs "
                "only the Event Grid source: add source=func.BlobSource.EVENT_GRID to "
                "@app.blob_trigger and subscribe the container's BlobCreated events to the "
                "function (scripts/postdeploy.sh does it for this app)"
            )
        path = blobpath.parse(bindings.resolve(str(fn.trigger["path"])))
        bindings.check_connection(bindings.connection_name(fn.trigger), fn.trigger_type)
        return path

    # Blob trigger (Event Grid source): one BlobCreated event per new blob version.
    def blob_path(self) -> blobpath.BlobPath:
        return blobpath.parse(bindings.resolve(str(self._only("blobTrigger").trigger["path"])))

    def blob_container(self) -> str:
        return self.blob_path().container

    def deliver_blob(self, name: str, container: str | None = None) -> Any:
        """Invoke the blob function for one blob event, as the Functions host does: nothing
        for a blob outside the trigger's path; model binding data naming the blob when the
        binding says SupportsDeferredBinding (SDK types such as BlobClient), else the blob's
        content (func.InputStream, bytes, str)."""
        fn = self._only("blobTrigger")
        path = self._check_blob(fn)
        container = container or path.container
        binding_data = path.match(container, name)
        if binding_data is None:
            log.info(
                "blob %s/%s does not match the trigger path %r: skipped", container, name, path.path
            )
            return None
        client = self.blobs.get_blob_client(container, name)
        data = self._blob_data(fn, client)
        if data is None:
            return None
        properties = _properties(client)
        metadata = payloads.blob_metadata(container, name, client.url, properties, binding_data)
        return _returned(self.worker.invoke(fn, [data], metadata))

    def _blob_data(
        self, fn: LoadedFunction, client: BlobClient
    ) -> protocol.ParameterBinding | None:
        arg = str(fn.trigger["name"])
        if payloads.supports_deferred_binding(fn.trigger):
            connection = bindings.connection_name(fn.trigger)
            return payloads.blob_reference(arg, connection, client.container_name, client.blob_name)
        try:
            content = client.download_blob().readall()
        except ResourceNotFoundError:
            # The blob extension does not trigger on a blob that no longer exists.
            log.info(
                "blob %s/%s no longer exists: skipped", client.container_name, client.blob_name
            )
            return None
        return payloads.blob_content(arg, content, str(fn.trigger.get("dataType") or ""))

    def new_blobs(self) -> list[tuple[str, str]]:
        """Blob versions not delivered yet that the trigger's path matches, as Event Grid
        would announce them (the host skips the events of the others)."""
        path = self.blob_path()
        container = self.blobs.get_container_client(path.container)
        found = [(b.name, b.etag) for b in container.list_blobs()]
        return [
            key
            for key in found
            if key not in self.seen and path.match(path.container, key[0]) is not None
        ]

    def deliver_new_blobs(self) -> int:
        delivered = 0
        for name, etag in self.new_blobs():
            self.seen.add((name, etag))
            self._with_retries(name, etag, functools.partial(self.deliver_blob, name))
            delivered += 1
        return delivered

    # Timer trigger.
    def schedule(self) -> str:
        expression = str(self._only("timerTrigger").trigger["schedule"])
        return bindings.schedule(bindings.resolve(expression))

    def fire_timer(self, past_due: bool = False) -> Any:
        """One tick; ScheduleStatus is sent when the schedule resolves (else null, as for a
        run started by hand)."""
        fn = self._only("timerTrigger")
        now = datetime.now(UTC)
        try:
            next_due = next(iter(bindings.next_occurrences(self.schedule(), now)), None)
        except BindingError:
            next_due = None
        info = payloads.timer_info(past_due, self.last_tick, next_due)
        self.last_tick = now
        data = [protocol.ParameterBinding(name=str(fn.trigger["name"]), data=info)]
        return _returned(self.worker.invoke(fn, data))

    # Queue trigger.
    def queue(self) -> QueueClient:
        fn = self._only("queueTrigger")
        bindings.check_connection(bindings.connection_name(fn.trigger), fn.trigger_type)
        name = bindings.resolve(str(fn.trigger["queueName"]))
        return QueueClient.from_connection_string(self.connection, name)

    def drain_queue(self, max_messages: int = 100) -> int:
        """Deliver visible messages one at a time (a slow one cannot make the others' receipts
        stale); failures stay queued and go to the poison queue after maxDequeueCount tries."""
        handled = 0
        queue = self.queue()
        for _ in range(max_messages):
            message = queue.receive_message(visibility_timeout=self.visibility_timeout)
            if message is None:
                break
            handled += self._deliver_message(queue, message)
        return handled

    def _deliver_message(self, queue: QueueClient, message: QueueMessage) -> int:
        fn = self._only("queueTrigger")
        try:
            body = self._decode(message)
        except binascii.Error:
            # The queues extension poisons an undecodable message at once: retrying cannot help.
            log.error(
                "queue message %s is not valid base64 (host.json messageEncoding is base64): "
                "moved to %s-poison; send messages base64-encoded",
                message.id,
                queue.queue_name,
            )
            self._poison(queue, message)
            return 0
        delivery = _delivery(message, body)
        data = [payloads.queue_message(str(fn.trigger["name"]), delivery)]
        try:
            self.worker.invoke(fn, data, payloads.queue_metadata(delivery))
        except Exception:
            log.exception("queue message %s failed (try %s)", message.id, message.dequeue_count)
            if (message.dequeue_count or 0) >= self.config.queues.max_dequeue_count:
                self._poison(queue, message)
            else:
                queue.update_message(message, visibility_timeout=int(self.retry_delay))
            return 0
        queue.delete_message(message)
        self.on_event(f"completed queue message {message.id}")
        return 1

    def _decode(self, message: QueueMessage) -> bytes:
        raw = str(message.content or "")
        if not self.config.queues.base64:
            return raw.encode()
        return base64.b64decode(raw, validate=True)

    def _poison(self, queue: QueueClient, message: QueueMessage) -> None:
        poison = QueueClient.from_connection_string(self.connection, f"{queue.queue_name}-poison")
        _create(poison)
        poison.send_message(message.content)
        queue.delete_message(message)
        self.on_event(f"poisoned queue message {message.id}")

    def _with_retries(self, name: str, etag: str, call: Callable[[], Any]) -> None:
        tries = self.config.queues.max_dequeue_count
        for attempt in range(1, tries + 1):
            try:
                call()
                self.on_event(f"delivered blob {name}")
                return
            except Exception:
                log.exception("blob %s failed (try %d of %d)", name, attempt, tries)
                time.sleep(min(2**attempt * 0.1, 2))
        self._blob_poison(name, etag)

    def _blob_poison(self, name: str, etag: str) -> None:
        poison = QueueClient.from_connection_string(self.connection, BLOB_POISON_QUEUE)
        _create(poison)
        fn = self._only("blobTrigger")
        poison.send_message(
            json.dumps(
                {
                    "Type": "BlobTrigger",
                    "FunctionId": f"Host.Functions.{fn.name}",
                    "BlobType": "BlockBlob",
                    "ContainerName": self.blob_container(),
                    "BlobName": name,
                    "ETag": etag,
                }
            )
        )
        self.on_event(f"poisoned blob {name}")

    # The loop `python -m devtools.host` runs.
    def run(self, interval: float = 1.0) -> None:
        timer = self._only("timerTrigger").trigger
        if timer.get("runOnStartup"):
            self._guarded(self.fire_timer)
        next_tick = self._next_tick(datetime.now(UTC))
        while not self.stop_event.is_set():
            self._guarded(self.deliver_new_blobs)
            next_tick = self._tick_if_due(next_tick)
            self._guarded(self.drain_queue)
            self.stop_event.wait(interval)

    def _next_tick(self, after: datetime) -> datetime | None:
        """None for a schedule that never occurs: Azure accepts it and never fires it."""
        return next(iter(bindings.next_occurrences(self.schedule(), after)), None)

    def _tick_if_due(self, due: datetime | None) -> datetime | None:
        """Fire once when due; after missed occurrences, one catch-up run marked past due."""
        now = datetime.now(UTC)
        if due is None or now < due:
            return due
        following = self._next_tick(due)
        past_due = following is not None and following <= now
        self._guarded(lambda: self.fire_timer(past_due=past_due))
        return self._next_tick(now)

    def _guarded(self, call: Callable[[], Any]) -> None:
        try:
            call()
        except Exception:  # noqa: BLE001 - the host keeps running, like the real one
            log.exception("%s failed", getattr(call, "__name__", "call"))


def _returned(response: Any) -> Any:
    """A non-HTTP function's return value; this app's blob, timer and queue functions have
    none, so a response without one is None."""
    value = response.return_value
    if value is None:
        return None
    return value.json or value.string or value.bytes


def _properties(client: Any) -> dict[str, Any]:
    """The blob's properties for the trigger metadata; an event can outlive its blob."""
    try:
        props = client.get_blob_properties()
    except Exception:  # noqa: BLE001 - a deleted blob still gets its event, as in Azure
        return {}
    return {
        "ETag": props.etag,
        "Length": props.size,
        "ContentType": props.content_settings.content_type,
        "LastModified": props.last_modified.isoformat() if props.last_modified else None,
    }


def _delivery(message: QueueMessage, body: bytes) -> payloads.QueueDelivery:
    return payloads.QueueDelivery(
        id=str(message.id),
        body=body,
        dequeue_count=int(message.dequeue_count or 0),
        pop_receipt=str(message.pop_receipt or ""),
        inserted_on=message.inserted_on,
        expires_on=message.expires_on,
        next_visible_on=message.next_visible_on,
    )


def _create(queue: QueueClient) -> None:
    try:
        queue.create_queue()
    except ResourceExistsError:
        pass
