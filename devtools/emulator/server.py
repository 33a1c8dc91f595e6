"""The HTTP layer: a threading server whose handler turns sockets into `Request`s."""

from __future__ import annotations

import socket
import struct
import sys
import uuid
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import orjson

from .api import Api, Reply, Request
from .routes import dispatch

JSON_BODY_LIMIT = 16 * 1024 * 1024
MULTIPART_SLACK = 1024 * 1024
CHUNK = 1024 * 1024


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Many clients connect at once (a poll tick's threads); the default backlog of 5 resets them.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: Api) -> None:
        self.api = api
        super().__init__(address, EmulatorHandler)


class EmulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AzureOpenAIBatchEmulator/1.0"
    # Headers and body go out in separate writes; Nagle plus delayed ACKs would stall each.
    disable_nagle_algorithm = True
    server: EmulatorHTTPServer

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle()

    def do_PUT(self) -> None:  # noqa: N802
        self._handle()

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        # Only the request line and status are logged: never bodies, so never prompts.
        if self.server.api.config.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")

    def _handle(self) -> None:
        url = urlsplit(self.path)
        headers = Message()
        for name, value in self.headers.items():
            headers[name] = value
        limit = self._body_limit(url.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers=headers,
            body=self._read_body(limit),
        )
        self._wait_latency(url.path)
        self._send(dispatch(self.server.api, request))

    def _wait_latency(self, path: str) -> None:
        latency = self.server.api.config.latency
        if latency > 0 and path.startswith("/openai/"):
            self.server.api.stopping.wait(latency)

    def _body_limit(self, path: str) -> int:
        if self.command == "POST" and path.endswith("/files"):
            return self.server.api.config.max_file_bytes + MULTIPART_SLACK
        return JSON_BODY_LIMIT

    def _read_body(self, limit: int) -> bytes | None:
        """The body, or None when it exceeds `limit` (then it is read and dropped)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(limit)
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            self._discard(length)
            return None
        return self.rfile.read(length) if length else b""

    def _discard(self, length: int) -> None:
        while length > 0:
            got = self.rfile.read(min(CHUNK, length))
            if not got:
                return
            length -= len(got)

    def _read_chunked(self, limit: int) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                break
            data = self.rfile.read(size)
            self.rfile.readline()
            total += size
            if total > limit:
                chunks.clear()
            else:
                chunks.append(data)
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return None if total > limit else b"".join(chunks)

    def _reset(self) -> None:
        """Close with a TCP RST, as a dropped load-balancer connection does: a zero linger
        makes close() abort the connection instead of ending it with FIN."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _send(self, reply: Reply) -> None:
        if reply.delay:
            # Wakes early when the emulator stops, so shutdown never waits on a stall.
            self.server.api.stopping.wait(reply.delay)
        if reply.close:
            self.close_connection = True
            if reply.reset:
                self._reset()
            return
        payload = reply.raw if reply.raw is not None else orjson.dumps(reply.body)
        request_id = str(uuid.uuid4())
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("apim-request-id", request_id)
            self.send_header("x-request-id", request_id)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
