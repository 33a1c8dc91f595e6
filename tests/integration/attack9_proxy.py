"""A slow link between the app and the emulator: the body of a chosen call is read at a
given rate, so that an upload takes long enough for its worker to be frozen half-way, or the
call is held a while before it goes on, even after the client gave up waiting (a request the
service acts on late)."""

from __future__ import annotations

import http.client
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}
CHUNK = 64 * 1024


class SlowLink:
    """Forwards every call to `upstream`; the first `POST` whose path matches `path` has its
    body read at `rate` bytes a second (0: at once), then held `delay` seconds before it is
    passed on. `started` is set once that call has begun."""

    def __init__(self, upstream: str, path: str, rate: float, delay: float = 0.0) -> None:
        self.upstream = urlsplit(upstream)
        self.path, self.rate, self.delay = re.compile(path), rate, delay
        self.started = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def slow(self, method: str, path: str) -> bool:
        if method != "POST" or self.started.is_set() or not self.path.search(path.split("?")[0]):
            return False
        self.started.set()
        return True

    def forward(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, Any, bytes]:
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=120)
        sent = {k: v for k, v in headers.items() if k.lower() not in HOP}
        conn.request(method, path, body=body, headers=sent)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, response.getheaders(), data

    def __enter__(self) -> SlowLink:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()


def _read(stream: Any, length: int, rate: float) -> bytes:
    chunks, got = [], 0
    while got < length:
        data = stream.read(min(CHUNK, length - got))
        if not data:
            break
        chunks.append(data)
        got += len(data)
        if rate:
            time.sleep(len(data) / rate)
    return b"".join(chunks)


def _handler(link: SlowLink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def any_call(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            slow = link.slow(self.command, self.path)
            body = _read(self.rfile, length, link.rate if slow else 0.0)
            time.sleep(link.delay if slow else 0.0)  # the client may be gone: it goes on anyway
            status, headers, data = link.forward(self.command, self.path, self.headers, body)
            try:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up waiting for the answer
                self.close_connection = True

        do_GET = do_POST = do_DELETE = any_call  # noqa: N815

    return Handler
