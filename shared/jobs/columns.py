"""Table values bounded by design: a string column holds at most 32K UTF-16 code units (64 KiB)
and an entity at most 1 MiB, so whatever a user controls is cut to fit, with a marker."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

MAX_COLUMN = 32_000  # UTF-16 code units; Azure's limit is 32,768
SHORT = 1_000  # names, ids and lists people read in the portal
MARKER = "…[cut]"
NOTE_ROOM = 40  # for the "... and N more" note


def units(text: str) -> int:
    """Length in UTF-16 code units, as Table Storage counts it (encoded in C: a job row of a
    thousand parts is measured on every save)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def fit(text: str, limit: int = SHORT) -> str:
    """`text` cut to `limit` UTF-16 code units, the cut marked."""
    if units(text) <= limit:
        return text
    keep = limit - len(MARKER)
    while units(text[:keep]) > limit - len(MARKER):
        keep -= 1
    return text[:keep] + MARKER


def json_list(items: Iterable[Any], limit: int = MAX_COLUMN) -> str:
    """A JSON array of whole items that fits `limit` once encoded (escapes count), ending with
    a note of how many were left out."""
    items = list(items)
    kept: list[Any] = []
    size = 2 + NOTE_ROOM
    for number, item in enumerate(items):
        size += units(orjson.dumps(item).decode()) + 1
        if size > limit:
            kept.append(f"... and {len(items) - number} more")
            break
        kept.append(item)
    return orjson.dumps(kept).decode()
