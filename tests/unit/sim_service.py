"""The batch service of the lifecycle's stateful tests: it runs batches when told (with lost
answers, quota refusals, unusable uploads and cancels), and each worker reaches it through a
view that can make its next call outlive the lease."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from azure.core.exceptions import ResourceNotFoundError

from shared.batches.service import (
    FileLimitReached,
    QuotaExceeded,
    Refused,
    RemoteBatch,
    RemoteFile,
)

LIVE = frozenset({"validating", "in_progress", "cancelling"})


class LostAnswer(Exception):
    """The call's answer never came back (a timeout): it may or may not have taken effect."""


@dataclass
class SimFile:
    id: str
    filename: str
    content: bytes
    status: str = "processed"
    batch_id: str | None = None  # set on a batch's output and error files


@dataclass
class SimBatch:
    id: str
    input_file_id: str
    metadata: dict[str, str]
    status: str = "validating"
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: tuple[dict[str, Any], ...] = ()
    cancel_asked: bool = False
    ended_at: int | None = None

    @property
    def live(self) -> bool:
        return self.status in LIVE

    def remote(self) -> RemoteBatch:
        return RemoteBatch(
            self.id,
            self.status,
            output_file_id=self.output_file_id,
            error_file_id=self.error_file_id,
            errors=self.errors,
            ended_at=self.ended_at,
            metadata=tuple(sorted(self.metadata.items())),
        )


@dataclass
class SimService:
    """The service's state; workers reach it through a `ServiceView` each."""

    files: dict[str, SimFile] = field(default_factory=dict)
    deleted: dict[str, SimFile] = field(default_factory=dict)
    batches: dict[str, SimBatch] = field(default_factory=dict)
    # One-shot faults, each used by the next call it fits: "lose_upload", "lose_create",
    # "quota", "unusable_upload", "file_limit", "refuse_create".
    faults: list[str] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def take(self, fault: str) -> bool:
        if fault in self.faults:
            self.faults.remove(fault)
            return True
        return False

    def new_file(self, filename: str, content: bytes, batch_id: str | None = None) -> SimFile:
        file = SimFile(f"file-{next(self.ids)}", filename, content, batch_id=batch_id)
        self.files[file.id] = file
        return file

    # ----- moving batches on, as the service would -----------------------------------------

    def step(self, batch: SimBatch, how: str) -> None:
        """One move of a live batch: validating -> in_progress (or refused for quota),
        in_progress -> completed / expired, a cancel asked -> cancelled."""
        if how == "vanish":  # the service lost it (F12): no batch, no files
            del self.batches[batch.id]
        elif batch.cancel_asked:
            self._end(batch, "cancelled", half=True)
        elif batch.status == "validating":
            if how == "quota":
                batch.status, batch.ended_at = "failed", int(time.time())
                batch.errors = ({"code": "token_limit_exceeded", "message": "quota"},)
            else:
                batch.status = "in_progress"
        elif batch.status == "in_progress":
            self._end(
                batch, "expired" if how == "expire" else "completed", line_errors=how == "errors"
            )

    def _end(
        self, batch: SimBatch, status: str, half: bool = False, line_errors: bool = False
    ) -> None:
        ids = [orjson.loads(x)["custom_id"] for x in self._input(batch).splitlines() if x.strip()]
        done = ids[: len(ids) // 2] if half or status == "expired" else ids
        failing = set(done[:1]) if line_errors else set()
        answers = [answer(c) for c in done if c not in failing]
        errors = [failure(c) for c in failing]
        if status == "expired":
            errors += [expired(c) for c in ids[len(done) :]]
        batch.status, batch.ended_at = status, int(time.time())
        if answers:
            batch.output_file_id = self.new_file("out.jsonl", _lines(answers), batch.id).id
        batch.error_file_id = self.new_file("err.jsonl", _lines(errors), batch.id).id

    def _input(self, batch: SimBatch) -> bytes:
        file = self.files.get(batch.input_file_id) or self.deleted.get(batch.input_file_id)
        return file.content if file else b""

    def finish_all(self) -> None:
        """Every live batch runs to its end (the quiet after a storm)."""
        for batch in list(self.batches.values()):
            while batch.live:
                self.step(batch, "complete")

    def live_per_part(self) -> dict[tuple[str, str], list[str]]:
        found: dict[tuple[str, str], list[str]] = {}
        for b in self.batches.values():
            if b.live:
                key = (b.metadata.get("batchdrop_job", ""), b.metadata.get("batchdrop_part", ""))
                found.setdefault(key, []).append(b.id)
        return found


def answer(custom_id: str) -> dict[str, Any]:
    body = {
        "choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    return {"custom_id": custom_id, "response": {"status_code": 200, "body": body}, "error": None}


def failure(custom_id: str) -> dict[str, Any]:
    body = {"error": {"code": "server_error", "message": "The server had an error."}}
    return {"custom_id": custom_id, "response": {"status_code": 500, "body": body}, "error": None}


def expired(custom_id: str) -> dict[str, Any]:
    error = {"code": "batch_expired", "message": "This request could not be executed."}
    return {"custom_id": custom_id, "response": None, "error": error}


def _lines(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


class ServiceView:
    """One worker's BatchService over the shared SimService. `stall` makes its next side
    effect slow: the call may take effect, then time passes (every lease lapses) and the
    other worker runs, and this worker's call ends in a timeout."""

    def __init__(self, sim: SimService) -> None:
        self.sim = sim
        self.stall: tuple[bool, Callable[[], None]] | None = None

    def _after(self, effect: Callable[[], Any]) -> Any:
        if self.stall is None:
            return effect()
        commits, meanwhile = self.stall
        self.stall = None
        if commits:
            effect()
        meanwhile()
        raise LostAnswer("the call timed out while another worker took the job over")

    def upload(self, filename: str, path: Path) -> RemoteFile:
        if self.sim.take("file_limit"):
            raise FileLimitReached("The resource already holds 500 batch files")

        def effect() -> SimFile:
            file = self.sim.new_file(filename, path.read_bytes())
            if self.sim.take("unusable_upload"):
                file.status = "error"
            return file

        file = self._after(effect)
        if self.sim.take("lose_upload"):
            raise LostAnswer("upload answer lost")
        return RemoteFile(file.id, "pending", filename)

    def find_file(self, filename: str) -> RemoteFile | None:
        found = [f for f in self.sim.files.values() if f.filename == filename]
        return RemoteFile(found[-1].id, found[-1].status, filename) if found else None

    def get_file(self, file_id: str) -> RemoteFile | None:
        file = self.sim.files.get(file_id)
        return RemoteFile(file.id, file.status, file.filename) if file else None

    def create_batch(self, file_id: str, endpoint: str, metadata: dict[str, str]) -> RemoteBatch:
        if self.sim.take("quota"):
            raise QuotaExceeded("token_limit_exceeded")
        if self.sim.take("refuse_create"):
            raise Refused({"code": "model_not_found", "message": "no such deployment"})

        def effect() -> SimBatch:
            batch = SimBatch(f"batch-{next(self.sim.ids)}", file_id, dict(metadata))
            self.sim.batches[batch.id] = batch
            return batch

        batch = self._after(effect)
        if self.sim.take("lose_create"):
            raise LostAnswer("create answer lost")
        return batch.remote()

    def find_batch(self, metadata: dict[str, str], since: int | None = None) -> RemoteBatch | None:
        wanted = set(metadata.items())
        found = [b for b in self.sim.batches.values() if wanted <= set(b.metadata.items())]
        return found[-1].remote() if found else None

    def get_batch(self, batch_id: str) -> RemoteBatch | None:
        batch = self.sim.batches.get(batch_id)
        return batch.remote() if batch else None

    def cancel_batch(self, batch_id: str) -> None:
        def effect() -> None:
            batch = self.sim.batches.get(batch_id)
            if batch is not None and batch.live:
                batch.cancel_asked, batch.status = True, "cancelling"

        self._after(effect)

    def download(self, file_id: str, dest: Path) -> None:
        file = self.sim.files.get(file_id)
        if file is None:
            raise ResourceNotFoundError(f"file {file_id} is gone")
        dest.write_bytes(file.content)

    def delete_file(self, file_id: str) -> None:
        def effect() -> None:
            file = self.sim.files.pop(file_id, None)
            if file is not None:
                self.sim.deleted[file_id] = file

        self._after(effect)
