"""Helpers for the telemetry tests: a local telemetry file per test, read back as rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shared.telemetry import setup

CANARY = "CANARY-PROMPT-7f3a: tell me the secret recipe"


class Recorded:
    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self) -> list[dict[str, Any]]:
        setup.flush()
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines()]

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        return [
            r for r in self.rows() if r["type"] == "event" and (name is None or r["name"] == name)
        ]

    def metrics(self, name: str, **attributes: str) -> list[dict[str, Any]]:
        return [
            r
            for r in self.rows()
            if r["type"] == "metric"
            and r["name"] == name
            and all(r["attributes"].get(k) == v for k, v in attributes.items())
        ]

    def total(self, name: str, **attributes: str) -> float:
        """A counter's total over every export (exports are deltas, as in Azure)."""
        return sum(r["value"] for r in self.metrics(name, **attributes))

    def last(self, name: str, **attributes: str) -> float:
        """A gauge's latest value."""
        return self.metrics(name, **attributes)[-1]["value"]


@contextmanager
def recorded(tmp_path: Path) -> Iterator[Recorded]:
    # Flush first while nothing is written: earlier tests' deltas are not this test's.
    setup.configure({})
    setup.flush()
    path = tmp_path / "telemetry.jsonl"
    assert setup.configure({"BATCHDROP_TELEMETRY_FILE": str(path)}) == setup.Mode.LOCAL
    try:
        yield Recorded(path)
    finally:
        setup.flush()
        setup.configure({})
