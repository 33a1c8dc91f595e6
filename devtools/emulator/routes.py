"""Request routing: admin endpoints, gateway faults, auth, API styles and paths."""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import orjson

from .api import Api, Reply, Request
from .errors import ApiError, bad_request, not_found, unauthorized
from .faults import HTML_ERROR, HTTP_ERRORS, RuleError, http_fault

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


def authorized(req: Request, api_key: str | None) -> bool:
    """`api-key` must match a configured key; any Bearer token stands for Entra ID."""
    key = req.headers.get("api-key")
    if key is not None:
        return bool(key) and (api_key is None or key == api_key)
    scheme, _, token = (req.headers.get("Authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def api_subpath(req: Request) -> str:
    """The path below the API root; dated paths need a known `api-version` like Azure."""
    if req.path.startswith("/openai/v1/"):
        return req.path[len("/openai/v1") :]
    version = req.query.get("api-version", "")
    if not API_VERSION.fullmatch(version) or version < FIRST_BATCH_API:
        raise not_found()
    return req.path[len("/openai") :]


def dispatch(api: Api, req: Request) -> Reply:
    try:
        return _dispatch(api, req)
    except ApiError as exc:
        return Reply(status=exc.status, body=exc.body(), headers=exc.headers)


def _dispatch(api: Api, req: Request) -> Reply:
    if req.path.startswith("/_emulator/"):
        return admin(api, req)
    if not req.path.startswith("/openai/"):
        raise not_found()
    fault = http_fault(api.faults, req.method, req.path)
    if fault is not None:
        return fault_reply(fault)
    if not authorized(req, api.config.api_key):
        raise unauthorized()
    sub = api_subpath(req)
    for method, pattern, name in ROUTES:
        match = pattern.fullmatch(sub)
        if match and method == req.method:
            return getattr(api, name)(req, **match.groupdict())
    raise not_found()


def fault_reply(fault: dict[str, Any]) -> Reply:
    if fault["close"]:
        return Reply(close=True)
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


def admin(api: Api, req: Request) -> Reply:
    key = (req.method, req.path.rstrip("/"))
    if key == ("GET", "/_emulator/state"):
        return Reply(body=api.state())
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
    raise not_found()


def _set_faults(api: Api, req: Request) -> Reply:
    try:
        rules = orjson.loads(req.body or b"null")
        api.faults.replace(rules)
    except (ValueError, RuleError) as exc:
        raise bad_request(f"Invalid fault rules: {exc}") from exc
    return Reply(body=api.faults.describe())
