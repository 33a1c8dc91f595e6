"""Request routing: admin endpoints, gateway faults, auth, API styles and paths."""

from __future__ import annotations

import re
from dataclasses import replace
from http import HTTPStatus
from typing import Any

from . import admin
from .api import Api, Reply, Request, json_body, upload_scope
from .auth import check_caller
from .errors import ApiError, not_found
from .faults import HTML_ERROR, HTTP_ERRORS, http_fault, misconfiguration
from .multipart import parse_multipart
from .rules import Facts, Scope

# Global Batch arrived with 2024-07-01-preview; older dated versions have no batches.
FIRST_BATCH_API = "2024-07-01"
API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?")

ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"/files"), "list_files"),
    ("POST", re.compile(r"/files"), "create_file"),
    ("GET", re.compile(r"/files/(?P<file_id>[^/]+)"), "get_file"),
    ("DELETE", re.compile(r"/files/(?P<file_id>[^/]+)"), "delete_file"),
    ("GET", re.compile(r"/files/(?P<file_id>[^/]+)/content"), "file_content"),
    ("GET", re.compile(r"/batches"), "list_batches"),
    ("POST", re.compile(r"/batches"), "create_batch"),
    ("GET", re.compile(r"/batches/(?P<batch_id>[^/]+)"), "get_batch"),
    ("POST", re.compile(r"/batches/(?P<batch_id>[^/]+)/cancel"), "cancel_batch"),
]


Route = tuple[str, dict[str, str]]


def find_route(req: Request) -> Route | None:
    """The operation a call asks for, by path and method alone (before any check)."""
    v1 = req.path.startswith("/openai/v1/")
    sub = req.path[len("/openai/v1") :] if v1 else req.path[len("/openai") :]
    for method, pattern, name in ROUTES:
        match = pattern.fullmatch(sub)
        if match and method == req.method:
            return name, match.groupdict()
    return None


def check_api_version(req: Request) -> None:
    """Dated paths need a known `api-version`; a missing or pre-batch one is a 404, as at
    Azure. v1 paths take none."""
    if req.path.startswith("/openai/v1/"):
        return
    version = req.query.get("api-version", "")
    if not API_VERSION.fullmatch(version) or version < FIRST_BATCH_API:
        raise not_found()


def dispatch(api: Api, req: Request) -> Reply:
    try:
        return _dispatch(api, req)
    except ApiError as exc:
        return Reply(status=exc.status, body=exc.body(), headers=exc.headers)


def _dispatch(api: Api, req: Request) -> Reply:
    if req.path.startswith("/_emulator/"):
        return admin.handle(api, req)
    if not req.path.startswith("/openai/"):
        raise not_found()
    route = find_route(req)
    scope = Scope(lambda: request_facts(api, req, route))
    fault = http_fault(api.faults, req.method, req.path, scope)
    if fault is not None and not fault["commit"]:
        return fault_reply(fault)
    problem = misconfiguration(api.faults, scope)
    if problem is not None:
        raise problem
    config = api.config
    v1 = req.path.startswith("/openai/v1/")
    check_caller(req.headers, v1, config.api_key, config.entra_secret, config.wall_clock())
    if fault is None:
        return _operation(api, req, route)
    # A `commit` fault lets the call take effect (or fail), then loses its answer.
    try:
        _operation(api, req, route)
    except ApiError:
        pass
    return fault_reply(fault)


def _operation(api: Api, req: Request, route: Route | None) -> Reply:
    check_api_version(req)
    if route is None:
        raise not_found()
    name, ids = route
    return getattr(api, name)(req, **ids)


def request_facts(api: Api, req: Request, route: Route | None) -> Facts:
    """What a call is about, for scoped faults: the file or batch it names or creates."""
    name, ids = route or ("", {})
    if "file_id" in ids:
        rec = api.files.get(ids["file_id"]) or api.deleted.get(ids["file_id"])
        return Facts() if rec is None else api.file_facts(rec)
    if "batch_id" in ids:
        batch = api.batches.get(ids["batch_id"])
        return Facts() if batch is None else batch.facts()
    try:
        if name == "create_file":
            return _upload_facts(req)
        if name == "create_batch":
            return _create_facts(api, req)
    except ApiError:
        pass  # a malformed call is about nothing in particular
    return Facts()


def _upload_facts(req: Request) -> Facts:
    parts = parse_multipart(req.body or b"", req.headers.get("Content-Type", ""))
    upload = next((p for p in parts if p.name == "file"), None)
    return Facts() if upload is None else upload_scope(upload).facts()


def _create_facts(api: Api, req: Request) -> Facts:
    data = json_body(req)
    rec = api.files.get(str(data.get("input_file_id")))
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else None
    return Facts(metadata=metadata) if rec is None else replace(rec.facts(), metadata=metadata)


def fault_reply(fault: dict[str, Any]) -> Reply:
    if fault["close"] or fault["reset"]:
        return Reply(close=True, reset=fault["reset"])
    status = fault["status"]
    headers = {}
    if fault["retry_after"] is not None:
        headers["Retry-After"] = f"{fault['retry_after']:g}"
    if fault["html"]:
        page = HTML_ERROR.format(status=status, reason=_reason(status))
        return Reply(status=status, raw=page.encode(), content_type="text/html", headers=headers)
    code, message = HTTP_ERRORS.get(status, (str(status), f"Injected HTTP {status}."))
    body = {"error": {"code": code, "message": message.format(retry=fault["retry_after"])}}
    return Reply(status=status, body=body, headers=headers)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
