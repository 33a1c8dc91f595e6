"""Problem: one reason an input file cannot be submitted, with the line that has it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One reason the file cannot be submitted, with the line that has it."""

    line: int | None
    code: str
    message: str
    custom_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "custom_id": self.custom_id,
            "error": {"code": self.code, "message": self.message},
        }
