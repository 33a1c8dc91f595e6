"""A linear-time multipart/form-data parser for large uploads."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from email.utils import collapse_rfc2231_value

from .errors import bad_request


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content: bytes


def boundary_of(content_type: str) -> bytes:
    msg = Message()
    msg["content-type"] = content_type
    if msg.get_content_type() != "multipart/form-data":
        raise bad_request("Content-Type must be multipart/form-data.")
    boundary = msg.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise bad_request("multipart/form-data without a boundary.")
    return boundary.encode("latin-1")


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """Split `body` into parts; each `find` scans forward, so the whole parse is linear."""
    delimiter = b"--" + boundary_of(content_type)
    pos = body.find(delimiter)
    if pos < 0:
        raise bad_request("Malformed multipart body.")
    parts: list[Part] = []
    while True:
        pos += len(delimiter)
        if body.startswith(b"--", pos):
            return parts
        part, pos = _read_part(body, pos, delimiter)
        parts.append(part)


def _read_part(body: bytes, pos: int, delimiter: bytes) -> tuple[Part, int]:
    if body.startswith(b"\r\n", pos):
        pos += 2
    header_end = body.find(b"\r\n\r\n", pos)
    if header_end < 0:
        raise bad_request("Malformed multipart body.")
    headers = _parse_headers(body[pos:header_end])
    start = header_end + 4
    end = body.find(b"\r\n" + delimiter, start)
    if end < 0:
        raise bad_request("Malformed multipart body: missing closing boundary.")
    return _make_part(headers, body[start:end]), end + 2


def _parse_headers(raw: bytes) -> Message:
    msg = Message()
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            msg[name.strip()] = value.strip()
    return msg


def _make_part(headers: Message, content: bytes) -> Part:
    raw_name = headers.get_param("name", header="content-disposition")
    if raw_name is None:
        raise bad_request("Multipart part without a name.")
    name = collapse_rfc2231_value(raw_name)
    return Part(name=name, filename=headers.get_filename(), content=content)
