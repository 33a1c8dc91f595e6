"""The emulated Files and Batches operations over in-memory state."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from email.message import Message
from typing import Any

import orjson

from .config import EmulatorConfig
from .errors import ApiError, bad_request, not_found
from .faults import (
    Faults,
    apply_quirks,
    batch_outcome,
    commit_delay,
    file_status,
    tamper_output,
    token_limit,
)
from .multipart import Part, parse_multipart
from .results import Processor, expired_line
from .rules import Facts, Scope
from .store import OUTPUT_TERMINAL, BatchRec, Clock, FileRec
from .validation import ENDPOINTS, deployments_in, validate_file

EXPIRY_MIN, EXPIRY_MAX = 1_209_600, 2_592_000  # 14 to 30 days, Azure's allowed range
UPSTREAM_WORKERS = 4


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    headers: Message = field(default_factory=Message)
    body: bytes | None = b""


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    raw: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float | None = None
    close: bool = False
    reset: bool = False


def json_body(req: Request) -> dict[str, Any]:
    try:
        data = orjson.loads(req.body or b"")
    except orjson.JSONDecodeError as exc:
        raise bad_request("The request body is not valid JSON.") from exc
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    return data


def _text(part: Part | None) -> str | None:
    return None if part is None else part.content.decode("utf-8", "replace")


def _int_param(query: dict[str, str], name: str, default: int, high: int) -> int:
    try:
        value = int(query.get(name, default))
    except ValueError as exc:
        raise bad_request(f"'{name}' must be an integer.", param=name) from exc
    if not 1 <= value <= high:
        raise bad_request(f"'{name}' must be between 1 and {high}.", param=name)
    return value


def paginate(items: list[dict[str, Any]], after: str | None, limit: int) -> dict[str, Any]:
    if after:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    page = items[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(items) > limit,
    }


def _expiry_seconds(anchor: Any, seconds: Any, param: str) -> int:
    if anchor != "created_at":
        raise bad_request(f"'{param}.anchor' must be 'created_at'.", param=f"{param}.anchor")
    try:
        value = int(seconds)
    except (TypeError, ValueError) as exc:
        raise bad_request(f"'{param}.seconds' must be an integer.", param=param) from exc
    if not EXPIRY_MIN <= value <= EXPIRY_MAX:
        raise bad_request(
            f"'{param}.seconds' must be between {EXPIRY_MIN} and {EXPIRY_MAX}.",
            param=f"{param}.seconds",
        )
    return value


def _check_metadata(metadata: Any) -> dict[str, str] | None:
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or len(metadata) > 16:
        raise bad_request("'metadata' must be an object with at most 16 keys.", param="metadata")
    for key, value in metadata.items():
        if len(key) > 64 or not isinstance(value, str) or len(value) > 512:
            raise bad_request(
                "'metadata' keys must be at most 64 characters and values strings of at "
                "most 512 characters.",
                param="metadata",
            )
    return metadata


class Api:
    """Holds the emulator's state; every public method runs one API operation."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.timings = config.effective_timings()
        self.clock = Clock(config.clock, config.wall_clock)
        self.faults = Faults()
        self.lock = threading.RLock()
        self.files: dict[str, FileRec] = {}
        self.deleted: dict[str, FileRec] = {}
        self.batches: dict[str, BatchRec] = {}
        self.stopping = threading.Event()
        self.generation = 0

    # ----- lifecycle bookkeeping -------------------------------------------------------

    @contextmanager
    def moment(self, batch_id: str | None = None) -> Iterator[float]:
        """Hold the lock at one instant, with every batch (or only `batch_id`'s, for calls
        about one batch) brought up to date for it.

        Advancing and rendering at the same instant keeps a batch from reading
        `completed` before its output files exist. A call about one batch advances only
        that one, so status calls stay cheap with thousands of batches; the others catch
        up when they are next looked at.
        """
        with self.lock:
            now = self.clock.now()
            batches = self.batches.values() if batch_id is None else [self._batch(batch_id)]
            for batch in batches:
                self._advance_batch(batch, now)
            yield now

    def _advance_batch(self, batch: BatchRec, now: float) -> None:
        batch.catch_up(now)
        if not batch.materialized and batch.status(now) in OUTPUT_TERMINAL:
            self._materialize(batch, now)

    def _materialize(self, batch: BatchRec, now: float) -> None:
        final = batch.phases(now)[-1]
        done = batch.processed(now)
        finished = batch.results[:done]
        ok = [r.data for r in finished if r.ok]
        failed = [r.data for r in finished if not r.ok]
        if final.status == "expired":
            failed += [expired_line(batch.id, cid) for cid in batch.order[done:]]
        ok, failed = tamper_output(self.faults, Scope.of(batch.facts()), ok, failed)
        if ok:
            batch.output_file_id = self._output_file(batch, "output", ok, final.at)
        batch.error_file_id = self._output_file(batch, "error", failed, final.at)
        batch.materialized = True

    def _output_file(self, batch: BatchRec, kind: str, lines: list[bytes], at: float) -> str:
        content = b"".join(line + b"\n" for line in lines)
        seconds = batch.output_expires_seconds
        created_at = self.clock.epoch(at)
        rec = FileRec(
            id=f"file-{uuid.uuid4().hex}",
            filename=f"{batch.id}_{kind}.jsonl",
            purpose="batch_output",
            content=content,
            created=at,
            ready=at,
            created_at=created_at,
            expires_at=None if seconds is None else created_at + seconds,
            batch_id=batch.id,
        )
        self.files[rec.id] = rec
        return rec.id

    def file_facts(self, rec: FileRec) -> Facts:
        """An output file is about its batch: its deployments, input file and metadata."""
        batch = self.batches.get(rec.batch_id or "")
        if batch is None:
            return rec.facts()
        facts = batch.facts()
        return Facts(facts.deployments, (rec.filename, *facts.filenames), facts.metadata)

    def _file_json(self, rec: FileRec, now: float) -> dict[str, Any]:
        scope = Scope(lambda: self.file_facts(rec))
        return apply_quirks(self.faults, "file", rec.to_json(now), scope)

    def _batch_json(self, batch: BatchRec, now: float) -> dict[str, Any]:
        scope = Scope.of(batch.facts())
        return apply_quirks(self.faults, "batch", batch.to_json(now, self.clock), scope)

    def _file(self, file_id: str) -> FileRec:
        rec = self.files.get(file_id)
        if rec is None:
            raise not_found(f"File with id '{file_id}' not found.")
        return rec

    def _batch(self, batch_id: str) -> BatchRec:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise not_found(f"Batch with id '{batch_id}' not found.")
        return batch

    # ----- files -----------------------------------------------------------------------

    def create_file(self, req: Request) -> Reply:
        if req.body is None:
            raise self._too_large()
        parts = {p.name: p for p in parse_multipart(req.body, req.headers.get("Content-Type", ""))}
        upload = parts.get("file")
        if upload is None or upload.filename is None:
            raise bad_request("A 'file' part with a filename is required.", param="file")
        self._check_purpose(_text(parts.get("purpose")))
        if not upload.filename.lower().endswith(".jsonl"):
            raise bad_request("Batch input files must be .jsonl files.", param="file")
        if len(upload.content) > self.config.max_file_bytes:
            raise self._too_large()
        seconds = self._upload_expiry(parts)
        scope = upload_scope(upload)
        with self.moment() as now:
            self._check_quota(seconds is not None)
            rec = self._store_upload(upload, seconds, now, scope)
            body = self._file_json(rec, now)
        return Reply(body=body, delay=commit_delay(self.faults, "file", scope))

    def _too_large(self) -> ApiError:
        limit_mb = self.config.max_file_bytes // (1024 * 1024)
        return bad_request(f"The file is too large: batch files can be at most {limit_mb} MB.")

    def _check_purpose(self, purpose: str | None) -> None:
        if purpose is None:
            raise bad_request("'purpose' is required.", param="purpose")
        if purpose != "batch":
            raise bad_request(
                f"Invalid value for purpose: '{purpose}'. This resource accepts 'batch'.",
                param="purpose",
            )

    def _upload_expiry(self, parts: dict[str, Part]) -> int | None:
        anchor = _text(parts.get("expires_after[anchor]"))
        seconds = _text(parts.get("expires_after[seconds]"))
        if anchor is None and seconds is None:
            return None
        return _expiry_seconds(anchor, seconds, "expires_after")

    def _check_quota(self, with_expiry: bool) -> None:
        inputs = [f for f in self.files.values() if f.purpose == "batch"]
        count = sum(1 for f in inputs if (f.expires_at is not None) == with_expiry)
        limit = (
            self.config.max_files_with_expiry
            if with_expiry
            else self.config.max_files_without_expiry
        )
        if count >= limit:
            kind = "with expires_after" if with_expiry else "without an expiry"
            raise bad_request(
                f"The resource already holds {count} batch files {kind}; the limit is {limit}. "
                "Delete unused files (or set expires_after) before uploading more.",
                code="quotaExceeded",
            )

    def _store_upload(self, upload: Part, seconds: int | None, now: float, scope: Scope) -> FileRec:
        created_at = self.clock.epoch(now)
        rec = FileRec(
            id=f"file-{uuid.uuid4().hex}",
            filename=upload.filename or "upload.jsonl",
            purpose="batch",
            content=upload.content,
            created=now,
            ready=now + self.timings.file_processing,
            created_at=created_at,
            expires_at=None if seconds is None else created_at + seconds,
            stuck=file_status(self.faults, scope),
        )
        self.files[rec.id] = rec
        return rec

    def list_files(self, req: Request) -> Reply:
        limit = _int_param(req.query, "limit", 10_000, 10_000)
        order = req.query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise bad_request("'order' must be 'asc' or 'desc'.", param="order")
        purpose = req.query.get("purpose")
        with self.moment() as now:
            recs = [f for f in self.files.values() if purpose in (None, f.purpose)]
            if order == "desc":
                recs.reverse()
            items = [self._file_json(rec, now) for rec in recs]
        return Reply(body=paginate(items, req.query.get("after"), limit))

    def get_file(self, req: Request, file_id: str) -> Reply:
        with self.moment() as now:
            return Reply(body=self._file_json(self._file(file_id), now))

    def file_content(self, req: Request, file_id: str) -> Reply:
        with self.moment():
            content = self._file(file_id).content
        return Reply(raw=content, content_type="application/octet-stream")

    def delete_file(self, req: Request, file_id: str) -> Reply:
        with self.lock:
            rec = self.files.pop(self._file(file_id).id)
            if self.config.keep_deleted_files:
                rec.deleted_at = int(self.config.wall_clock())
                self.deleted[file_id] = rec
        return Reply(body={"id": file_id, "object": "file", "deleted": True})

    # ----- batches ---------------------------------------------------------------------

    def create_batch(self, req: Request) -> Reply:
        data = json_body(req)
        params = self._batch_params(data)
        with self.moment() as now:
            source = self._input_file(params["input_file_id"], now)
            scope = Scope(lambda: replace(source.facts(), metadata=params["metadata"]))
            if token_limit(self.faults, "create", scope):
                raise ApiError(
                    400, "token_limit_exceeded", _token_message(), type_="invalid_request_error"
                )
            batch = self._new_batch(params, source, now)
            self.batches[batch.id] = batch
            body = self._batch_json(batch, now)
        delay = commit_delay(self.faults, "batch", Scope.of(batch.facts()))
        return Reply(body=body, delay=delay)

    def _batch_params(self, data: dict[str, Any]) -> dict[str, Any]:
        input_file_id = data.get("input_file_id")
        if not isinstance(input_file_id, str) or not input_file_id:
            raise bad_request("'input_file_id' is required.", param="input_file_id")
        endpoint = data.get("endpoint")
        if endpoint not in ENDPOINTS:
            raise bad_request(
                f"Invalid endpoint {endpoint!r}; supported: {', '.join(ENDPOINTS)}.",
                param="endpoint",
            )
        if data.get("completion_window") != "24h":
            raise bad_request("'completion_window' must be '24h'.", param="completion_window")
        expires = data.get("output_expires_after")
        seconds = None
        if expires is not None:
            if not isinstance(expires, dict):
                raise bad_request("'output_expires_after' must be an object.")
            seconds = _expiry_seconds(
                expires.get("anchor"), expires.get("seconds"), "output_expires_after"
            )
        return {
            "input_file_id": input_file_id,
            "endpoint": endpoint,
            "metadata": _check_metadata(data.get("metadata")),
            "output_expires_seconds": seconds,
        }

    def _input_file(self, file_id: str, now: float) -> FileRec:
        source = self._file(file_id)
        if source.purpose != "batch":
            raise bad_request(
                f"File '{file_id}' has purpose '{source.purpose}'; batches need purpose 'batch'.",
                param="input_file_id",
            )
        status = source.status(now)
        if status != "processed":
            raise bad_request(
                f"File '{file_id}' is still '{status}'; wait until its status is 'processed' "
                "before creating a batch.",
                param="input_file_id",
                code="invalidFileStatus",
            )
        return source

    def _new_batch(self, params: dict[str, Any], source: FileRec, now: float) -> BatchRec:
        batch = BatchRec(
            id=f"batch_{uuid.uuid4()}",
            endpoint=params["endpoint"],
            input_file_id=params["input_file_id"],
            completion_window="24h",
            metadata=params["metadata"],
            created=now,
            created_at=self.clock.epoch(now),
            timings=self.timings,
            output_expires_seconds=params["output_expires_seconds"],
            input_filename=source.filename,
        )
        checked = validate_file(
            source.content,
            batch.endpoint,
            self.config.deployments,
            self.config.max_requests_per_file,
        )
        batch.deployments = frozenset(r["body"]["model"] for r in checked.requests)
        if checked.errors:
            batch.errors = checked.errors[: self.config.max_reported_errors]
        elif token_limit(self.faults, "validation", Scope.of(batch.facts())):
            batch.errors = [{"code": "token_limit_exceeded", "message": _token_message()}]
        else:
            self._start(batch, checked.requests)
        return batch

    def _start(self, batch: BatchRec, requests: list[dict[str, Any]]) -> None:
        # Azure writes results in its own order, never the input's.
        random.Random(batch.id).shuffle(requests)
        batch.order = [r["custom_id"] for r in requests]
        batch.outcome = batch_outcome(self.faults, Scope.of(batch.facts()))
        processor = Processor(
            batch_id=batch.id,
            endpoint=batch.endpoint,
            faults=self.faults,
            facts=batch.facts(),
            now=lambda: self.clock.epoch(self.clock.now()),
            upstream=self.config.upstream,
            timeout=self.config.upstream_timeout,
        )
        if processor.upstream is None:
            batch.pending, batch.run_line = requests, processor.run
            batch.ready = batch.created
            return
        worker = threading.Thread(
            target=self._run_upstream,
            args=(batch, processor, requests, self.generation),
            daemon=True,
        )
        worker.start()

    def _run_upstream(
        self, batch: BatchRec, processor: Processor, requests: list[dict], generation: int
    ) -> None:
        pool = ThreadPoolExecutor(UPSTREAM_WORKERS)
        try:
            for result in pool.map(processor.run, requests):
                with self.lock:
                    if not self._still_wanted(batch, generation):
                        return
                    batch.add_result(result)
            with self.lock:
                batch.ready = self.clock.now()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _still_wanted(self, batch: BatchRec, generation: int) -> bool:
        # A reset, a stop or a cancel makes further upstream calls pointless.
        stale = generation != self.generation or self.stopping.is_set()
        return not stale and batch.cancel_at is None

    def list_batches(self, req: Request) -> Reply:
        limit = _int_param(req.query, "limit", 20, 100)
        with self.moment() as now:
            items = [self._batch_json(b, now) for b in reversed(self.batches.values())]
        return Reply(body=paginate(items, req.query.get("after"), limit))

    def get_batch(self, req: Request, batch_id: str) -> Reply:
        with self.moment(batch_id) as now:
            return Reply(body=self._batch_json(self._batch(batch_id), now))

    def cancel_batch(self, req: Request, batch_id: str) -> Reply:
        with self.moment(batch_id) as now:
            batch = self._batch(batch_id)
            status = batch.status(now)
            if status not in ("validating", "in_progress"):
                raise ApiError(
                    409,
                    "batchNotCancellable",
                    f"Cannot cancel a batch with status '{status}'.",
                    type_="invalid_request_error",
                )
            batch.cancel_processed = batch.processed(now)
            batch.cancel_at = now
            return Reply(body=self._batch_json(batch, now))

    # ----- admin -----------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.files.clear()
            self.deleted.clear()
            self.batches.clear()
            self.generation += 1
        self.faults.clear()


def upload_scope(upload: Part) -> Scope:
    # The upload's deployments are read from its lines only if a deployment-scoped rule asks.
    return Scope(lambda: Facts(deployments_in(upload.content), (upload.filename or "",)))


def _token_message() -> str:
    return (
        "Enqueued token limit reached for this deployment. Wait for running batches to "
        "complete, then submit again."
    )
