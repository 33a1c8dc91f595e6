"""The service's output lines by custom_id, kept on local disk: memory holds only where each
line is, so it grows with the number of requests, not with the size of the answers."""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Iterable, Iterator, MutableMapping
from typing import IO

# Azure writes custom_id as the second key of every line: found by a search, not a parse.
CUSTOM_ID_KEY = b'"custom_id":"'
BUFFER = 1 << 20
PLACE_BITS = 32  # a line's length in the low bits of its place, its offset in the high bits
PLACE_MASK = (1 << PLACE_BITS) - 1


class LineStore(MutableMapping[str, bytes]):
    """custom_id -> raw line, the bytes in an anonymous temporary file (gone with the store).

    Whole blocks of lines can be appended at once and each line then placed by its offset,
    so adding a file costs one write per block, not one per line."""

    def __init__(self) -> None:
        self._places: dict[str, int] = {}
        self._file: IO[bytes] | None = None
        self._size = 0
        self._unflushed = False

    def append(self, data: bytes) -> int:
        """Write bytes at the end of the file; returns their offset."""
        file = self._file or self._open()
        file.write(data)
        offset, self._size = self._size, self._size + len(data)
        self._unflushed = True
        return offset

    def _open(self) -> IO[bytes]:
        file = tempfile.TemporaryFile("w+b", buffering=BUFFER, prefix="batchdrop-lines-")
        weakref.finalize(self, file.close)  # closed with the store, without a warning
        self._file = file
        return file

    def place(self, key: str, offset: int, length: int) -> None:
        """Name the `length` bytes at `offset` (appended earlier) the line for `key`."""
        self._places[key] = offset << PLACE_BITS | length

    def take(self, key: str) -> bytes | None:
        """Remove the line for `key` and return it; None if there is none."""
        place = self._places.pop(key, None)
        return None if place is None else self._read(place)

    def __setitem__(self, key: str, raw: bytes) -> None:
        self.place(key, self.append(raw), len(raw))

    def __getitem__(self, key: str) -> bytes:
        return self._read(self._places[key])

    def __delitem__(self, key: str) -> None:
        del self._places[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._places)

    def __len__(self) -> int:
        return len(self._places)

    def __contains__(self, key: object) -> bool:
        return key in self._places

    def _read(self, place: int) -> bytes:
        assert self._file is not None  # a place exists only after an append
        if self._unflushed:
            self._file.flush()
            self._unflushed = False
        return os.pread(self._file.fileno(), place & PLACE_MASK, place >> PLACE_BITS)


def blocks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks regrouped into blocks of whole lines (the last may lack its line end)."""
    pending: list[bytes] = []
    for chunk in chunks:
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            pending.append(chunk)
            continue
        yield b"".join([*pending, chunk[:cut]]) if pending else chunk[:cut]
        pending = [chunk[cut:]] if cut < len(chunk) else []
    if pending:
        yield b"".join(pending)


def quick_custom_id(raw: bytes) -> str | None:
    """The custom_id of a service line found without parsing it; None where the search cannot
    vouch for it (then parse the line)."""
    at = raw.find(CUSTOM_ID_KEY)
    if at < 0:
        return None
    start = at + len(CUSTOM_ID_KEY)
    end = raw.find(b'"', start)
    # A top-level key: the line opens an object and nothing before the key opens another one
    # or an array. A value with escapes, or cut off, is left to the parser.
    if raw[:1] != b"{" or raw.count(b"{", 0, at) != 1 or raw.find(b"[", 0, at) >= 0:
        return None
    value = raw[start:end]
    if end < 0 or b"\\" in value:
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return None
