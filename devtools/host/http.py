"""Serves the app's HTTP functions the way the Functions host routes them: the host.json route
prefix (`api/` by default), route templates with parameters, constraints and optional or
catch-all segments, case-insensitive literals and the trigger's methods. Like Core Tools, it
does not ask for function keys."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from . import payloads
from .worker import LoadedFunction, RuntimeWorker

log = logging.getLogger("devtools.host")

MAX_BODY = 100 * 1024 * 1024  # the Functions host's request size limit (100 MB)
CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "bool": r"(?i:true|false)",
    "alpha": r"[A-Za-z]+",
    "guid": r"[0-9A-Fa-f]{8}-?(?:[0-9A-Fa-f]{4}-?){3}[0-9A-Fa-f]{12}",
}
PARAMETER = re.compile(r"^\{(\*)?([A-Za-z_]\w*)(?::([A-Za-z]+))?(\?)?\}$")


def route_pattern(route: str, prefix: str = "api") -> re.Pattern[str]:
    """`jobs/{job_id}` -> a regex for `/api/jobs/<job_id>`, one named group per parameter."""
    segments = [s for s in f"{prefix}/{route}".split("/") if s]
    regex = "".join(_segment(s) for s in segments)
    return re.compile(f"^{regex}/?$", re.IGNORECASE)


def _segment(segment: str) -> str:
    found = PARAMETER.match(segment)
    if not found:
        return "/" + re.escape(segment)
    catch_all, name, constraint, optional = found.groups()
    if catch_all:
        return f"(?:/(?P<{name}>.*))?"
    if constraint and constraint.lower() not in CONSTRAINTS:
        raise ValueError(f"route constraint '{constraint}' is not supported by the local host")
    value = CONSTRAINTS[constraint.lower()] if constraint else r"[^/]+"
    group = f"/(?P<{name}>{value})"
    return f"(?:{group})?" if optional else group


@dataclass(frozen=True)
class Route:
    function: LoadedFunction
    pattern: re.Pattern[str]
    methods: frozenset[str]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        found = self.pattern.match(path)
        if not found or (self.methods and method.upper() not in self.methods):
            return None
        return {k: unquote(v) for k, v in found.groupdict().items() if v is not None}


def routes(worker: RuntimeWorker, prefix: str = "api") -> list[Route]:
    table = []
    for fn in worker.by_trigger("httpTrigger"):
        trigger = fn.trigger
        methods = frozenset(str(m).upper() for m in trigger.get("methods") or [])
        route = str(trigger.get("route") or fn.name)
        table.append(Route(fn, route_pattern(route, prefix), methods))
    return table


def find(table: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in table:
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


class Handler(BaseHTTPRequestHandler):
    """One request: route it, invoke the function through the runtime, send its reply."""

    worker: RuntimeWorker
    table: list[Route]

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._handle()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET  # noqa: N815

    def _handle(self) -> None:
        url = urlsplit(self.path)
        found = find(self.table, self.command, url.path)
        if found is None:
            self._send(404, {}, b'{"error": "no function matches this method and route"}')
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(413, {}, b'{"error": "request body too large"}')
            return
        route, params = found
        request = payloads.http_request(
            str(route.function.trigger["name"]),
            self.command,
            f"http://{self.headers.get('Host', 'localhost')}{self.path}",
            dict(self.headers.items()),
            dict(parse_qsl(url.query)),
            params,
            self.rfile.read(length),
        )
        try:
            reply = payloads.http_reply(self.worker.invoke(route.function, [request]))
        except Exception:  # noqa: BLE001 - like the host: a failing function is a 500
            log.exception("HTTP function %s failed", route.function.name)
            self._send(500, {}, b'{"error": "function failed; see the host log"}')
            return
        self._send(reply.status, reply.headers, reply.body)

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        headers = {k.lower(): v for k, v in headers.items() if k.lower() != "content-length"}
        headers.setdefault("content-type", "application/json")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # request lines are noise here; the functions log what matters


def serve(app: Any, host: str = "127.0.0.1", port: int = 7071) -> ThreadingHTTPServer:
    """Serve `app` (a FunctionHost, or a RuntimeWorker with the default `api` prefix) in a
    daemon thread; returns the server (call shutdown() to stop)."""
    worker: RuntimeWorker = getattr(app, "worker", app)
    prefix = getattr(getattr(app, "config", None), "route_prefix", "api")
    handler = type("AppHandler", (Handler,), {"worker": worker, "table": routes(worker, prefix)})
    server = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
