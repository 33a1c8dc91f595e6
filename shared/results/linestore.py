"""The service's output lines by custom_id, kept on local disk: memory holds only where each
line is (shared/idmap.py: a dict for a usual job, 12 bytes a slot past that), so it grows
neither with the size of the answers nor much with their number."""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from itertools import islice
from typing import IO

import orjson

from shared.idmap import DICT_LIMIT, IdMap

# Azure writes custom_id as the second key of every line: found by a search, not a parse.
CUSTOM_ID_KEY = b'"custom_id":"'
BUFFER = 1 << 20
PLACE_BITS = 24  # a line's length in the low bits of its place, its offset in the high bits
LONG = (1 << PLACE_BITS) - 1  # the length of a longer line: it is read up to its line end
MAX_OFFSET = 1 << (64 - PLACE_BITS)
MAX_LINE = 64 << 20  # a longer line from the service is not kept (an anomaly)
TOO_LONG = b"\x00"  # what such a line is replaced with (then reported)
READ = 1 << 16


class LineStore(MutableMapping[str, bytes]):
    """custom_id -> raw line, the bytes in an anonymous temporary file (gone with the store).

    Whole blocks of lines can be appended at once and each line then placed by its offset,
    so adding a file costs one write per block, not one per line. Every line names its key
    (`key_of`): memory need not keep the keys."""

    def __init__(
        self,
        key_of: Callable[[bytes], str | None] | None = None,
        dict_limit: int = DICT_LIMIT,
        hash_of: Callable[[str], int] = hash,
    ) -> None:
        self._key_of = key_of or line_custom_id
        self._places = IdMap(self._key_at, None, dict_limit, hash_of)
        self._file: IO[bytes] | None = None
        self._size = 0
        self._unflushed = False
        self._last: tuple[int, bytes] = (-1, b"")  # a key check reads the line take returns

    @property
    def size(self) -> int:
        return self._size

    def append(self, data: bytes) -> int:
        """Write bytes at the end of the file; returns their offset."""
        file = self._file or self._open()
        file.write(data)
        offset, self._size = self._size, self._size + len(data)
        if self._size >= MAX_OFFSET:
            raise OverflowError("more than 1 TiB of the service's lines")
        self._unflushed = True
        return offset

    def _open(self) -> IO[bytes]:
        file = tempfile.TemporaryFile("w+b", buffering=BUFFER, prefix="batchdrop-lines-")
        weakref.finalize(self, file.close)  # closed with the store, without a warning
        self._file = file
        return file

    def first(self, key: str, offset: int, length: int) -> int | None:
        """Name the line at `offset` the one for `key` unless `key` has one: then its place."""
        return self._places.setdefault(key, offset << PLACE_BITS | min(length, LONG))

    def place(self, key: str, offset: int, length: int) -> None:
        """Name the `length` bytes at `offset` (appended earlier) the line for `key`."""
        self._places.put(key, offset << PLACE_BITS | min(length, LONG))

    def pop_place(self, key: str) -> int | None:
        """Forget the line of `key`; where it was (None if there was none)."""
        return self._places.pop(key)

    def take(self, key: str) -> bytes | None:
        """Remove the line for `key` and return it; None if there is none."""
        place = self._places.pop(key)
        return None if place is None else self.read(place)

    def keep(self, count: int) -> int:
        """Keep the lines of `count` keys only (a report need not name more); how many went."""
        dropped = len(self) - count
        if dropped <= 0:
            return 0
        kept = [(key, self._places.get(key)) for key in islice(self, count)]
        self._places = IdMap(self._key_at)
        for key, place in kept:
            self._places.put(key, place or 0)
        return dropped

    def __setitem__(self, key: str, raw: bytes) -> None:
        self.place(key, self.append(raw + b"\n"), len(raw))

    def __getitem__(self, key: str) -> bytes:
        place = self._places.get(key)
        if place is None:
            raise KeyError(key)
        return self.read(place)

    def __delitem__(self, key: str) -> None:
        if self._places.pop(key) is None:
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        for place in self._places.values():
            key = self._key_at(place)
            if key is not None:
                yield key

    def __len__(self) -> int:
        return len(self._places)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._places.get(key) is not None

    def read(self, place: int) -> bytes:
        """The line at a place (as `first` and `place` make them)."""
        if place == self._last[0]:
            return self._last[1]
        assert self._file is not None  # a place exists only after an append
        if self._unflushed:
            self._file.flush()
            self._unflushed = False
        fd, offset, length = self._file.fileno(), place >> PLACE_BITS, place & LONG
        raw = os.pread(fd, length, offset) if length < LONG else _to_line_end(fd, offset)
        self._last = (place, raw)
        return raw

    def _key_at(self, place: int) -> str | None:
        return self._key_of(self.read(place))


def _to_line_end(fd: int, offset: int) -> bytes:
    pieces: list[bytes] = []
    while True:
        piece = os.pread(fd, READ, offset)
        end = piece.find(b"\n")
        if end >= 0 or not piece:
            pieces.append(piece[: end if end >= 0 else len(piece)])
            return b"".join(pieces)
        pieces.append(piece)
        offset += len(piece)


def blocks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The chunks regrouped into blocks of whole lines, each ending with a line end; a line
    longer than MAX_LINE comes as TOO_LONG, its bytes dropped as they arrive."""
    pending: list[bytes] = []
    size = 0
    for chunk in chunks:
        cut = chunk.rfind(b"\n") + 1
        if not cut:
            size += len(chunk)
            if size > MAX_LINE:
                pending = [TOO_LONG]
            else:
                pending.append(chunk)
            continue
        head, first_end = chunk[:cut], chunk.find(b"\n")
        if size + first_end > MAX_LINE:  # the pending line ends here, too long
            pending, head = [TOO_LONG], head[first_end:]
        yield b"".join([*pending, head]) if pending else head
        pending = [chunk[cut:]] if cut < len(chunk) else []
        size = len(chunk) - cut
    if pending:
        yield b"".join([*pending, b"\n"])


def line_custom_id(raw: bytes) -> str | None:
    """The custom_id a service line names (None if it names none)."""
    found = quick_custom_id(raw)
    if found is not None:
        return found
    try:
        custom_id = orjson.loads(raw).get("custom_id")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return custom_id if isinstance(custom_id, str) else None


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
