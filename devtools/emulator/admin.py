"""What tests see of the emulator: its state, every batch, any file's content, and the
`/_emulator/...` endpoints that serve them over HTTP (behind the admin token)."""

from __future__ import annotations

import re
from typing import Any

import orjson

from .api import Api, Reply, Request
from .auth import check_admin
from .errors import bad_request, not_found
from .rules import RuleError
from .store import TERMINAL, BatchRec, FileRec

BATCH_KEYS = (
    "id", "status", "endpoint", "input_file_id", "output_file_id", "error_file_id",
    "request_counts", "metadata", "errors", "created_at",
)  # fmt: skip
CONTENT = re.compile(r"/_emulator/files/(?P<file_id>[^/]+)/content")


def _file_entry(rec: FileRec, now: float) -> dict[str, Any]:
    entry = {k: v for k, v in rec.to_json(now).items() if k not in ("object", "status_details")}
    if rec.batch_id is not None:
        entry["batch_id"] = rec.batch_id
    if rec.deleted_at is not None:
        entry["deleted_at"] = rec.deleted_at
    return entry


def _batch_entry(api: Api, batch: BatchRec, now: float) -> dict[str, Any]:
    full = batch.to_json(now, api.clock)
    entry = {key: full[key] for key in BATCH_KEYS}
    entry.update(
        input_filename=batch.input_filename,
        deployments=sorted(batch.deployments),
        live=entry["status"] not in TERMINAL,
        cancel_requested=batch.cancel_at is not None,
    )
    return entry


def _metadata_fits(batch: BatchRec, wanted: dict[str, str] | None) -> bool:
    metadata = batch.metadata or {}
    return all(metadata.get(key) == value for key, value in (wanted or {}).items())


def batches(api: Api, metadata: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every batch ever created (oldest first) with its metadata, status, input file name and
    deployments; `metadata` keeps only batches whose metadata holds those exact values."""
    with api.moment() as now:
        return [
            _batch_entry(api, b, now) for b in api.batches.values() if _metadata_fits(b, metadata)
        ]


def state(api: Api) -> dict[str, Any]:
    """Live files, deleted files (kept for inspection), every batch, and the fault rules."""
    with api.moment() as now:
        files = [_file_entry(f, now) for f in api.files.values()]
        deleted = [_file_entry(f, now) for f in api.deleted.values()]
        listed = [_batch_entry(api, b, now) for b in api.batches.values()]
    return {
        "files": files,
        "deleted_files": deleted,
        "batches": listed,
        "faults": api.faults.describe(),
    }


def content(api: Api, file_id: str) -> bytes:
    """The bytes of any file the emulator was given or wrote, deleted ones included."""
    with api.moment():
        rec = api.files.get(file_id) or api.deleted.get(file_id)
    if rec is None:
        raise KeyError(file_id)
    return rec.content


# ----- over HTTP -------------------------------------------------------------------------------


def handle(api: Api, req: Request) -> Reply:
    check_admin(req.headers, api.config.admin_token)
    key = (req.method, req.path.rstrip("/"))
    if key == ("GET", "/_emulator/state"):
        return Reply(body=state(api))
    if key == ("GET", "/_emulator/batches"):
        return Reply(body=batches(api))
    if key == ("GET", "/_emulator/faults"):
        return Reply(body=api.faults.describe())
    if key == ("POST", "/_emulator/faults"):
        return _set_faults(api, req)
    if key == ("DELETE", "/_emulator/faults"):
        api.faults.clear()
        return Reply(body=[])
    if key == ("POST", "/_emulator/reset"):
        api.reset()
        return Reply(body={"reset": True})
    match = CONTENT.fullmatch(req.path)
    if req.method == "GET" and match:
        return _content(api, match["file_id"])
    raise not_found()


def _content(api: Api, file_id: str) -> Reply:
    try:
        return Reply(raw=content(api, file_id), content_type="application/octet-stream")
    except KeyError:
        raise not_found(f"File with id '{file_id}' not found.") from None


def _set_faults(api: Api, req: Request) -> Reply:
    """A JSON list of rules, or `{"seed": N, "rules": [...]}` for a repeatable random run."""
    try:
        data = orjson.loads(req.body or b"null")
        seed = None
        if isinstance(data, dict):
            seed, data = data.get("seed"), data.get("rules")
        api.faults.replace(data, seed)
    except (ValueError, RuleError) as exc:
        raise bad_request(f"Invalid fault rules: {exc}") from exc
    return Reply(body=api.faults.describe())
