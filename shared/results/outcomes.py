"""The service's answer and error lines, indexed by custom_id as they are read; anything odd in
them (a repeated or unknown custom_id, a line that is not JSON) becomes an anomaly."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from shared.results.linestore import LineStore, blocks, quick_custom_id


@dataclass(frozen=True)
class _Block:
    """Whole lines of one of the service's files, and where they are in it and in the store."""

    data: bytes
    source: str
    lines_before: int
    offset: int

    def where(self, begin: int) -> str:
        number = self.lines_before + self.data.count(b"\n", 0, begin) + 1
        return f"{self.source} line {number}"


@dataclass
class Outcomes:
    """The service's answer and error lines by custom_id: their bytes wait on local disk
    (LineStore), so memory does not grow with the answers; each is parsed once, when merged.

    Files are added in part order; a later part is a later attempt, so its line replaces an
    earlier one for the same custom_id. Twice in one part is the service's error: reported.
    """

    lines: LineStore = field(default_factory=LineStore)
    anomalies: list[str] = field(default_factory=list)
    part_of: dict[str, int] = field(default_factory=dict)
    current_part: int = 0

    def add_file(self, chunks: Iterable[bytes], source: str, part: int = 0) -> None:
        self.current_part = part
        lines_before = 0
        for data in blocks(chunks):
            self._add_block(_Block(data, source, lines_before, self.lines.append(data)))
            lines_before += data.count(b"\n")

    def _add_block(self, block: _Block) -> None:
        begin = 0
        for raw in block.data.split(b"\n"):
            custom_id = quick_custom_id(raw) or self._parsed_id(raw, block, begin)
            if custom_id is not None:
                self._keep(custom_id, block, begin, len(raw))
            begin += len(raw) + 1

    def _keep(self, custom_id: str, block: _Block, begin: int, length: int) -> None:
        if self.part_of.get(custom_id) == self.current_part:
            self.anomalies.append(
                f"{block.where(begin)}: custom_id {custom_id!r} returned twice; "
                "the first answer was kept."
            )
        else:
            self.lines.place(custom_id, block.offset + begin, length)
            self.part_of[custom_id] = self.current_part

    def _parsed_id(self, raw: bytes, block: _Block, begin: int) -> str | None:
        """The slow way, for lines the quick search cannot vouch for; None for a blank line
        and after an anomaly."""
        if not raw.strip():
            return None
        try:
            custom_id = orjson.loads(raw).get("custom_id")
        except (orjson.JSONDecodeError, AttributeError):
            self.anomalies.append(f"{block.where(begin)}: not a JSON object; ignored.")
            return None
        if not isinstance(custom_id, str):
            self.anomalies.append(f"{block.where(begin)}: no custom_id; ignored.")
            return None
        return custom_id

    def take(self, custom_id: str, part: int) -> dict[str, Any] | None:
        """The parsed line for `custom_id` from `part` (its latest attempt), removed; None if
        that attempt has none. An earlier attempt's line does not count."""
        raw = self.lines.take(custom_id)
        if raw is None or self.part_of.get(custom_id, part) != part:
            return None
        try:
            line = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.anomalies.append(f"custom_id {custom_id!r}: not a JSON object; ignored.")
            return None
        return line if isinstance(line, dict) else None
