"""Unique custom_ids over a whole file in bounded memory: the line each id was first used on,
in a dict for a usual file and, past a few hundred thousand ids, in a temporary file with 12
bytes a slot in memory (shared/idmap.py)."""

from __future__ import annotations

from collections.abc import Callable

from shared.idmap import DICT_CHARS, DICT_LIMIT, IdMap, RecordLog

LINE_BYTES = 8


class UniqueIds:
    """custom_id -> the line it was first used on. The dict is checked here directly: this
    runs once per request, and the usual file never leaves it."""

    def __init__(self, dict_limit: int | None = None, hash_of: Callable[[str], int] = hash) -> None:
        self._log = RecordLog()
        self._limit = DICT_LIMIT if dict_limit is None else dict_limit
        self._plain: dict[str, int] | None = {}
        self._chars = 0  # of the dict's keys
        self._ids = IdMap(self._key_at, None, 0, hash_of)  # once the dict is too big

    def first_line(self, custom_id: str, line: int) -> int | None:
        """None if `custom_id` is new (it is recorded as used on `line`), else the line that
        used it first."""
        plain = self._plain
        if plain is not None:
            size = len(plain)
            first = plain.setdefault(custom_id, line)
            if len(plain) == size:
                return first
            self._chars += len(custom_id)
            if size >= self._limit or self._chars > DICT_CHARS:
                self._leave_dict(plain)
            return None
        log = self._log
        known = self._ids.setdefault(custom_id, log.size)  # the place its record will take
        if known is None:
            log.append(_record(line, custom_id))
            return None
        return int.from_bytes(log.read(known)[:LINE_BYTES], "little")

    def __len__(self) -> int:
        return len(self._plain) if self._plain is not None else len(self._ids)

    def _leave_dict(self, plain: dict[str, int]) -> None:
        self._plain = None
        for custom_id, line in plain.items():
            self._ids.put(custom_id, self._log.append(_record(line, custom_id)))

    def _key_at(self, place: int) -> str:
        return self._log.read(place)[LINE_BYTES:].decode("utf-8", "surrogatepass")


def _record(line: int, custom_id: str) -> bytes:
    return line.to_bytes(LINE_BYTES, "little") + custom_id.encode("utf-8", "surrogatepass")
