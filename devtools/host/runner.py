"""Delivers blob events, timer ticks and queue messages to the registered functions."""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.functions.queue import QueueMessage as QueueMessageBinding
from azure.functions.timer import TimerRequest  # the concrete types the worker passes
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, QueueMessage
from croniter import croniter

from .registry import Registered, by_type, resolve

log = logging.getLogger("devtools.host")

MAX_ATTEMPTS = 5  # the Functions host tries a blob or queue invocation 5 times
BLOB_POISON_QUEUE = "webjobs-blobtrigger-poison"


class FunctionHost:
    """A stand-in for the Functions host: same bindings, same retry rules, no Core Tools."""

    def __init__(
        self, app: Any, connection_string: str | None = None, visibility_timeout: int = 30
    ) -> None:
        self.visibility_timeout = visibility_timeout
        self.app = app
        self.connection = connection_string or os.environ["AzureWebJobsStorage"]
        self.blobs = BlobServiceClient.from_connection_string(self.connection)
        self.seen: set[tuple[str, str]] = set()
        self.stop_event = threading.Event()
        self.on_event: Callable[[str], None] = lambda _line: None

    def _only(self, trigger_type: str) -> Registered:
        found = by_type(self.app, trigger_type)
        if len(found) != 1:
            raise LookupError(f"expected one {trigger_type} function, found {len(found)}")
        return found[0]

    # Blob trigger (Event Grid source): one BlobCreated event per new blob version.
    def blob_container(self) -> str:
        return resolve(self._only("blobTrigger").trigger["path"]).split("/", 1)[0]

    def deliver_blob(self, name: str, container: str | None = None) -> Any:
        """Invoke the blob function for one blob with a BlobClient (the SDK-type binding)."""
        fn = self._only("blobTrigger")
        client = self.blobs.get_blob_client(container or self.blob_container(), name)
        return fn.function(**{fn.arg_name: client})

    def new_blobs(self) -> list[tuple[str, str]]:
        """Blob versions not delivered yet, as Event Grid would announce them."""
        container = self.blobs.get_container_client(self.blob_container())
        found = [(b.name, b.etag) for b in container.list_blobs()]
        return [key for key in found if key not in self.seen]

    def deliver_new_blobs(self) -> int:
        delivered = 0
        for name, etag in self.new_blobs():
            self.seen.add((name, etag))
            self._with_retries(f"blob {name}", lambda n=name: self.deliver_blob(n))
            delivered += 1
        return delivered

    # Timer trigger.
    def schedule(self) -> str:
        return resolve(self._only("timerTrigger").trigger["schedule"])

    def fire_timer(self, past_due: bool = False) -> Any:
        fn = self._only("timerTrigger")
        return fn.function(**{fn.arg_name: TimerRequest(past_due=past_due)})

    # Queue trigger.
    def queue(self) -> QueueClient:
        name = resolve(self._only("queueTrigger").trigger["queueName"])
        return QueueClient.from_connection_string(self.connection, name)

    def drain_queue(self, max_messages: int = 100) -> int:
        """Deliver visible messages one at a time (a slow one cannot make the others' receipts
        stale); failures stay queued and go to the poison queue after 5 tries."""
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
        body = base64.b64decode(message.content)  # host.json: messageEncoding base64
        msg = QueueMessageBinding(
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            pop_receipt=message.pop_receipt,
        )
        try:
            fn.function(**{fn.arg_name: msg})
        except Exception:
            log.exception("queue message %s failed (try %s)", message.id, message.dequeue_count)
            if (message.dequeue_count or 0) >= MAX_ATTEMPTS:
                self._poison(queue, message)
            else:
                queue.update_message(message, visibility_timeout=1)
            return 0
        queue.delete_message(message)
        self.on_event(f"completed queue message {message.id}")
        return 1

    def _poison(self, queue: QueueClient, message: QueueMessage) -> None:
        poison = QueueClient.from_connection_string(self.connection, f"{queue.queue_name}-poison")
        try:
            poison.create_queue()
        except ResourceExistsError:
            pass
        poison.send_message(message.content)
        queue.delete_message(message)

    def _with_retries(self, what: str, call: Callable[[], Any]) -> None:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                call()
                self.on_event(f"delivered {what}")
                return
            except Exception:
                log.exception("%s failed (try %d of %d)", what, attempt, MAX_ATTEMPTS)
                time.sleep(min(2**attempt * 0.1, 2))
        self._blob_poison(what)

    def _blob_poison(self, what: str) -> None:
        poison = QueueClient.from_connection_string(self.connection, BLOB_POISON_QUEUE)
        try:
            poison.create_queue()
        except ResourceExistsError:
            pass
        poison.send_message(what)

    # The loop `python -m devtools.host` runs.
    def run(self, interval: float = 1.0) -> None:
        schedule = croniter(self.schedule(), datetime.now(), second_at_beginning=True)
        next_tick = schedule.get_next(float)
        while not self.stop_event.is_set():
            self._guarded(self.deliver_new_blobs)
            if time.time() >= next_tick:
                self._guarded(self.fire_timer)
                next_tick = schedule.get_next(float)
            self._guarded(self.drain_queue)
            self.stop_event.wait(interval)

    def _guarded(self, call: Callable[[], Any]) -> None:
        try:
            call()
        except Exception:  # noqa: BLE001 - the host keeps running, like the real one
            log.exception("%s failed", getattr(call, "__name__", "call"))
