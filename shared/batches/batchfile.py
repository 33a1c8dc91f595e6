"""The lines of a batch input file as Azure expects them, built from pre-encoded pieces."""

from __future__ import annotations

from typing import Any

import orjson

CHAT_URLS = frozenset({"/chat/completions", "/v1/chat/completions"})
RESPONSES_URLS = frozenset({"/v1/responses"})
KNOWN_URLS = CHAT_URLS | RESPONSES_URLS

# {"custom_id":<id>,"method":"POST","url":"<url>","body":<body>}: the custom_id's JSON ends
# where AFTER_ID begins (it cannot occur inside a JSON string, whose quotes are escaped).
NATIVE_HEAD = b'{"custom_id":%b,"method":"POST","url":"%b","body":'
ID_KEY = b'{"custom_id":'
AFTER_ID = {url: b',"method":"POST","url":"%b","body":' % url.encode() for url in KNOWN_URLS}
NATIVE_OVERHEAD = len(NATIVE_HEAD % (b"", b"")) + len(b"}\n")
_ID_START = len(ID_KEY)
_AFTER_ID = b',"method":"POST","url":"'
_BODY_KEY = b'","body":'


def native_pieces(id_json: bytes, url: str, body_json: bytes) -> tuple[bytes, ...]:
    """One uploaded line and its line end, in pieces (the body is not copied)."""
    after_id = AFTER_ID.get(url) or b',"method":"POST","url":"%b","body":' % url.encode()
    return ID_KEY, id_json, after_id, body_json, b"}\n"


def native_size(id_json: bytes, url: str, body_json: bytes) -> int:
    """len(b"".join(native_pieces(...))), without building it."""
    return NATIVE_OVERHEAD + len(id_json) + len(url) + len(body_json)


def native_line(custom_id: str, url: str, body: dict[str, Any]) -> bytes:
    """One uploaded line with its line end."""
    return b"".join(native_pieces(orjson.dumps(custom_id), url, orjson.dumps(body)))


def split_native(line: bytes) -> tuple[bytes, bytes]:
    """(custom_id JSON, body JSON) of a line built by native_pieces, without parsing it."""
    id_end = line.index(_AFTER_ID, _ID_START)
    body_start = line.index(_BODY_KEY, id_end + len(_AFTER_ID)) + len(_BODY_KEY)
    return line[_ID_START:id_end], line[body_start:-2]  # every line ends with b"}\n"
