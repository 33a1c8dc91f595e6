"""The service names lines of a part's upload file; users know lines of their input file.
PartLines finds, during the merge, which input line each such line is, so that every line
number a user sees is the input's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shared.jobs.model import Part


@dataclass
class PartLines:
    """Which input line (and custom_id) is the Nth line of a part's upload file, for the Ns
    the service's errors name. A part's file holds its requests in input order, so counting
    the work index's records per part, in order, finds them."""

    parts: dict[int, Part]
    wanted: set[tuple[int, int]]
    found: dict[tuple[int, int], tuple[int, str]] = field(default_factory=dict)
    seen: dict[int, int] = field(default_factory=dict)

    @classmethod
    def of(cls, parts: dict[int, Part]) -> PartLines | None:
        """None when no error names a line: then the merge need not count."""
        wanted = {(p.index, e["line"]) for p in parts.values() for e in p.errors if _line(e)}
        return cls(parts, wanted) if wanted else None

    def count(self, line: int, custom_id: str, sent_in: Iterable[int]) -> dict[int, int]:
        """Count one request (in input order) in each part it was sent in; its place there."""
        places = {}
        for part in sent_in:
            place = self.seen[part] = self.seen.get(part, 0) + 1
            places[part] = place
            if (part, place) in self.wanted:
                self.found[(part, place)] = (line, custom_id)
        return places

    def own_error(self, part: int, place: int) -> dict[str, Any] | None:
        """The service's error about this very line of the part, if it named it."""
        if (part, place) not in self.wanted:
            return None
        return next((e for e in self.parts[part].errors if e.get("line") == place), None)

    def errors(self, part: Part) -> list[dict[str, Any]]:
        """The part's errors with input lines: `line` is the input's (None if unknown),
        `batch_line` the line in the uploaded file the service named."""
        return [
            mapped(e, self.found.get((part.index, e["line"]))) if _line(e) else e
            for e in part.errors
        ]


def mapped(error: dict[str, Any], where: tuple[int, str] | None) -> dict[str, Any]:
    out = {k: v for k, v in error.items() if k != "line"}
    out["batch_line"] = error["line"]
    out["line"], out["custom_id"] = where if where else (None, None)
    return out


def part_errors(parts: Iterable[Part], lines: PartLines | None) -> dict[int, list[dict[str, Any]]]:
    """Every part's errors, their lines mapped where the merge found them."""
    return {p.index: lines.errors(p) if lines else _unmapped(p) for p in parts}


def _unmapped(part: Part) -> list[dict[str, Any]]:
    return [mapped(e, None) if _line(e) else e for e in part.errors]


def _line(error: dict[str, Any]) -> bool:
    line = error.get("line")
    return isinstance(line, int) and not isinstance(line, bool) and line > 0
