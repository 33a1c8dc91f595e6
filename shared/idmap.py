"""custom_id -> a place in a local file where its record is kept (`IdMap`): a dict for a usual
job, and past `DICT_LIMIT` ids two flat arrays (12 bytes a slot) that keep no key in memory, so
that millions of requests cost tens of MiB, not GiB; exact, as an id whose 32-bit hash matches
is told apart by reading its record back. `RecordLog`: such records in a temporary file."""

from __future__ import annotations

import os
import tempfile
import weakref
from array import array
from collections.abc import Callable, Iterator
from typing import IO

# A dict costs about 140 bytes an id (the key string, its slot, the value); up to here that is
# under 40 MiB and the dict's speed is worth it. The arrays cost 4-8x less and 3-4x the time.
DICT_LIMIT = 1 << 18
DICT_CHARS = 1 << 23  # ... and up to this many characters of keys (long custom_ids cost more)
HASH_MASK = 0xFFFFFFFF
TOMB = (1 << 64) - 1  # a removed id's value: its hash stays, so later ids are still found
MAX_LOAD = 0.7  # linear probing stays short below this
MIN_SLOTS = 1 << 10
BUFFER = 1 << 20  # RecordLog: bytes kept in memory before they go to the file
READ_AHEAD = 256  # RecordLog: most records are read back with one system call

KeyAt = Callable[[int], str | None]


class IdMap:
    """str -> int (a place on disk, below 2**64 - 1). `key_at(place)` reads back the key whose
    record is at `place`; it is called only when a 32-bit hash matches, so rarely for new ids.
    `spill(key, value)` turns a dict value into such a place when the map leaves the dict (by
    default values already are places)."""

    def __init__(
        self,
        key_at: KeyAt,
        spill: Callable[[str, int], int] | None = None,
        dict_limit: int = DICT_LIMIT,
        hash_of: Callable[[str], int] = hash,
    ) -> None:
        self._key_at = key_at
        self._spill = spill
        self._dict: dict[str, int] | None = {}
        self._dict_limit = dict_limit
        self._chars = 0  # of the dict's keys
        self._hash_of = hash_of  # tests force collisions with their own
        self._hashes = array("I")
        self._values = array("Q")
        self._mask = 0
        self._used = 0  # slots holding an id or a removed one
        self._live = 0

    @property
    def compact(self) -> bool:
        return self._dict is None

    def get(self, key: str) -> int | None:
        if self._dict is not None:
            return self._dict.get(key)
        slot = self._find(key, self._hash(key))
        return self._values[slot] if slot >= 0 else None

    def put(self, key: str, value: int) -> None:
        """Set the value of `key`, new or not."""
        known = self._dict
        if known is not None:
            size = len(known)
            known[key] = value
            if len(known) > size:
                self._grew(size, key)
            return
        h = self._hash(key)
        slot = self._find(key, h)
        if slot >= 0:
            self._values[slot] = value
        else:
            self._fill(-1 - slot, h, value)

    def setdefault(self, key: str, value: int) -> int | None:
        """The value `key` has; None if it had none, and then it has `value` now."""
        known = self._dict
        if known is not None:
            size = len(known)
            old = known.setdefault(key, value)
            if len(known) == size:
                return old
            self._grew(size, key)
            return None
        h = self._hash(key)
        slot = self._find(key, h)
        if slot >= 0:
            return self._values[slot]
        self._fill(-1 - slot, h, value)
        return None

    def pop(self, key: str) -> int | None:
        if self._dict is not None:
            return self._dict.pop(key, None)
        slot = self._find(key, self._hash(key))
        if slot < 0:
            return None
        value = self._values[slot]
        self._values[slot] = TOMB
        self._live -= 1
        return value

    def values(self) -> Iterator[int]:
        """The values of the ids present, in no particular order."""
        if self._dict is not None:
            yield from list(self._dict.values())
            return
        for h, value in zip(self._hashes, self._values, strict=True):
            if h and value != TOMB:
                yield value

    def __len__(self) -> int:
        return len(self._dict) if self._dict is not None else self._live

    def _grew(self, size: int, key: str) -> None:
        """A new key in the dict: past the dict's bounds, move to the arrays."""
        self._chars += len(key)
        if size >= self._dict_limit or self._chars > DICT_CHARS:
            self._leave_dict()

    def _hash(self, key: str) -> int:
        return self._hash_of(key) & HASH_MASK or 1  # 0 marks an empty slot

    def _find(self, key: str, h: int) -> int:
        """The slot holding `key`, or -1 - the empty slot where it would go."""
        hashes, values, mask, key_at = self._hashes, self._values, self._mask, self._key_at
        slot = h & mask
        while True:
            got = hashes[slot]
            if not got:
                return -1 - slot
            if got == h:
                value = values[slot]
                if value != TOMB and key_at(value) == key:
                    return slot
            slot = (slot + 1) & mask

    def _fill(self, slot: int, h: int, value: int) -> None:
        self._hashes[slot] = h
        self._values[slot] = value
        self._used += 1
        self._live += 1
        if self._used > MAX_LOAD * len(self._hashes):
            self._resize(self._live)

    def _leave_dict(self) -> None:
        items, self._dict = self._dict or {}, None
        self._resize(len(items))
        spill = self._spill
        for key, value in items.items():
            h = self._hash(key)
            self._fill(-1 - self._find(key, h), h, spill(key, value) if spill else value)

    def _resize(self, live: int) -> None:
        """New arrays at most half full, with the live ids moved over (removed ones dropped)."""
        size = MIN_SLOTS
        while size // 2 < live:
            size *= 2
        old = zip(self._hashes, self._values, strict=True)
        hashes = array("I", bytes(4 * size))
        values = array("Q", bytes(8 * size))
        mask = size - 1
        moved = 0
        for h, value in old:
            if h and value != TOMB:
                slot = h & mask
                while hashes[slot]:
                    slot = (slot + 1) & mask
                hashes[slot] = h
                values[slot] = value
                moved += 1
        self._hashes, self._values, self._mask = hashes, values, mask
        self._used = self._live = moved


class RecordLog:
    """Byte records appended to an anonymous temporary file and read back by offset; the
    last MiB waits in memory, so appending costs no system call."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._flushed = 0
        self._buffer = bytearray()

    @property
    def size(self) -> int:
        """The offset the next record will have."""
        return self._flushed + len(self._buffer)

    def append(self, record: bytes) -> int:
        offset = self.size
        self._buffer += len(record).to_bytes(4, "little")
        self._buffer += record
        if len(self._buffer) >= BUFFER:
            self._flush()
        return offset

    def read(self, offset: int) -> bytes:
        if offset >= self._flushed:
            at = offset - self._flushed
            size = int.from_bytes(self._buffer[at : at + 4], "little")
            return bytes(self._buffer[at + 4 : at + 4 + size])
        assert self._file is not None  # flushed records are in the file
        fd = self._file.fileno()
        head = os.pread(fd, 4 + READ_AHEAD, offset)
        size = int.from_bytes(head[:4], "little")
        if size <= len(head) - 4:
            return head[4 : 4 + size]
        return os.pread(fd, size, offset + 4)

    def _flush(self) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile("w+b", prefix="batchdrop-ids-")
            weakref.finalize(self, self._file.close)  # closed with the log
        self._file.write(self._buffer)
        self._file.flush()
        self._flushed += len(self._buffer)
        self._buffer = bytearray()
