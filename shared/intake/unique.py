"""Unique custom_ids over a whole file in bounded memory: the line each id was first used on,
in a dict for a usual file and, past a few hundred thousand ids, in a temporary file with 12
bytes a slot in memory (shared/idmap.py)."""

from __future__ import annotations

from collections.abc import Callable

from shared.idmap import DICT_LIMIT, IdMap, RecordLog

LINE_BYTES = 8


class UniqueIds:
    """custom_id -> the line it was first used on."""

    def __init__(self, dict_limit: int | None = None, hash_of: Callable[[str], int] = hash) -> None:
        self._log = RecordLog()
        limit = DICT_LIMIT if dict_limit is None else dict_limit
        self._ids = IdMap(self._key_at, self._spill, limit, hash_of)

    def first_line(self, custom_id: str, line: int) -> int | None:
        """None if `custom_id` is new (it is recorded as used on `line`), else the line that
        used it first."""
        ids = self._ids
        if not ids.compact:  # the values are lines
            return ids.setdefault(custom_id, line)
        log = self._log
        known = ids.setdefault(custom_id, log.size)  # the place its record is about to take
        if known is None:
            log.append(_record(line, custom_id))
            return None
        return int.from_bytes(log.read(known)[:LINE_BYTES], "little")

    def __len__(self) -> int:
        return len(self._ids)

    def _spill(self, custom_id: str, line: int) -> int:
        return self._log.append(_record(line, custom_id))

    def _key_at(self, place: int) -> str:
        return self._log.read(place)[LINE_BYTES:].decode("utf-8", "surrogatepass")


def _record(line: int, custom_id: str) -> bytes:
    return line.to_bytes(LINE_BYTES, "little") + custom_id.encode("utf-8", "surrogatepass")
