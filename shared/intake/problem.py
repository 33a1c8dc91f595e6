"""Problem: one reason an input file cannot be submitted, with the line that has it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Messages quote the user's values (a url, a deployment, a key): a report of 10,000 problems
# stays small however long those are.
MAX_MESSAGE = 2_000
CUT = " [...]"


@dataclass(frozen=True)
class Problem:
    """One reason the file cannot be submitted, with the line that has it."""

    line: int | None
    code: str
    message: str
    custom_id: str | None = None

    def __post_init__(self) -> None:
        if len(self.message) > MAX_MESSAGE:
            object.__setattr__(self, "message", self.message[: MAX_MESSAGE - len(CUT)] + CUT)

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "custom_id": self.custom_id,
            "error": {"code": self.code, "message": self.message},
        }
