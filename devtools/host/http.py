"""Serves the app's HTTP functions on /api/... the way Core Tools does locally."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from .registry import Registered, by_type

MAX_BODY = 1 << 20


def route_pattern(route: str) -> re.Pattern[str]:
    """`jobs/{job_id}` -> a regex with a named group per route parameter."""
    parts = re.split(r"(\{[^}]+\})", route.strip("/"))
    regex = "".join(
        f"(?P<{p[1:-1].split(':')[0]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts
    )
    return re.compile(f"^/api/{regex}/?$")


def match(app: Any, method: str, path: str) -> tuple[Registered, dict[str, str]] | None:
    for fn in by_type(app, "httpTrigger"):
        methods = {str(getattr(m, "value", m)).upper() for m in fn.trigger.get("methods", [])}
        found = route_pattern(fn.trigger.get("route", fn.name)).match(path)
        if found and (not methods or method in methods):
            return fn, found.groupdict()
    return None


def serve(app: Any, host: str = "127.0.0.1", port: int = 7071) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; returns the server (call shutdown() to stop)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._handle()

        def do_POST(self) -> None:  # noqa: N802
            self._handle()

        def _handle(self) -> None:
            url = urlsplit(self.path)
            found = match(app, self.command, url.path)
            if found is None:
                self._send(404, b'{"error": "no such function route"}')
                return
            fn, route_params = found
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
            request = func.HttpRequest(
                self.command,
                f"http://{host}:{port}{self.path}",
                headers=dict(self.headers.items()),
                params=dict(parse_qsl(url.query)),
                route_params=route_params,
                body=self.rfile.read(length),
            )
            try:
                response = fn.function(**{fn.arg_name: request})
            except Exception:  # noqa: BLE001 - like the host: a failing function is a 500
                self._send(500, b'{"error": "function failed; see the host log"}')
                return
            self._send(response.status_code, response.get_body(), response.mimetype)

        def _send(self, status: int, body: bytes, mimetype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", mimetype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # request lines are noise here; the functions log what matters

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
