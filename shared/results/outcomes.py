"""The service's answer and error lines, indexed by custom_id as they are read; anything odd in
them (a repeated or unknown custom_id, a line that is not JSON) becomes an anomaly."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from shared.results import linestore
from shared.results.linestore import (
    PLACE_BITS,
    TOO_LONG,
    LineStore,
    blocks,
    quick_custom_id,
)

# A summary lists this many anomalies and unknown custom_ids at most; the rest are counted.
MAX_REPORTED = 1_000


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
    Which part a line came from follows from where it is in the store (`starts`, `parts`).
    """

    lines: LineStore = field(default_factory=LineStore)
    anomalies: list[str] = field(default_factory=list)
    current_part: int = 0
    starts: list[int] = field(default_factory=list)  # the store's offset where a file begins
    parts: list[int] = field(default_factory=list)  # ... and the part it belongs to
    unreported: int = 0  # anomalies past MAX_REPORTED

    def add_file(self, chunks: Iterable[bytes], source: str, part: int = 0) -> None:
        self.current_part = part
        self.starts.append(self.lines.size)
        self.parts.append(part)
        lines_before = 0
        for data in blocks(chunks):
            self._add_block(_Block(data, source, lines_before, self.lines.append(data)))
            lines_before += data.count(b"\n")

    def _add_block(self, block: _Block) -> None:
        begin = 0
        for raw in block.data.split(b"\n"):
            if len(raw) > linestore.MAX_LINE or raw == TOO_LONG:  # never parsed: could take GiBs
                limit = linestore.MAX_LINE >> 20
                self.anomaly(f"{block.where(begin)}: longer than {limit} MiB; ignored.")
            else:
                custom_id = quick_custom_id(raw) or self._parsed_id(raw, block, begin)
                if custom_id is not None:
                    self._keep(custom_id, block, begin, len(raw))
            begin += len(raw) + 1

    def _keep(self, custom_id: str, block: _Block, begin: int, length: int) -> None:
        earlier = self.lines.first(custom_id, block.offset + begin, length)
        if earlier is None:
            return
        if self.part_at(earlier) == self.current_part:
            self.anomaly(
                f"{block.where(begin)}: custom_id {custom_id[:200]!r} returned twice; "
                "the first answer was kept."
            )
        else:
            self.lines.place(custom_id, block.offset + begin, length)

    def part_at(self, place: int) -> int:
        """The part whose file holds the line at `place`."""
        return self.parts[bisect_right(self.starts, place >> PLACE_BITS) - 1]

    def _parsed_id(self, raw: bytes, block: _Block, begin: int) -> str | None:
        """The slow way, for lines the quick search cannot vouch for; None for a blank line
        and after an anomaly."""
        if not raw.strip():
            return None
        try:
            custom_id = orjson.loads(raw).get("custom_id")
        except (orjson.JSONDecodeError, AttributeError):
            self.anomaly(f"{block.where(begin)}: not a JSON object; ignored.")
            return None
        if not isinstance(custom_id, str):
            self.anomaly(f"{block.where(begin)}: no custom_id; ignored.")
            return None
        return custom_id

    def take(self, custom_id: str, part: int) -> dict[str, Any] | None:
        """The parsed line for `custom_id` from `part` (its latest attempt), removed; None if
        that attempt has none. An earlier attempt's line does not count."""
        place = self.lines.pop_place(custom_id)
        if place is None or self.part_at(place) != part:
            return None
        try:
            line = orjson.loads(self.lines.read(place))
        except orjson.JSONDecodeError:
            self.anomaly(f"custom_id {custom_id[:200]!r}: not a JSON object; ignored.")
            return None
        return line if isinstance(line, dict) else None

    def anomaly(self, text: str) -> None:
        if len(self.anomalies) < MAX_REPORTED:
            self.anomalies.append(text)
        else:
            self.unreported += 1

    def finish(self) -> None:
        """After the merge: what is left names custom_ids not in the input; a report lists the
        first MAX_REPORTED of those and of the anomalies, and counts the rest."""
        unknown = self.lines.keep(MAX_REPORTED)
        if unknown:
            self.anomalies.append(
                f"{unknown:,} more custom_id(s) the service returned are not in the input."
            )
        if self.unreported:
            self.anomalies.append(f"{self.unreported:,} more anomalies like these.")
            self.unreported = 0
