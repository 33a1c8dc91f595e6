"""Test-only conveniences over production code (kept out of shared/)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from shared.intake.model import Intake
from shared.intake.options import IntakeOptions
from shared.intake.read import Sink, read_input
from shared.jobs.model import Part
from shared.results.merge import merged_results
from shared.results.outcomes import Outcomes
from shared.results.retry import Attempts


def read_native(
    chunks: Iterable[bytes],
    sink: Sink,
    *,
    default_deployment: str | None,
    max_requests: int,
    max_bytes: int,
) -> Intake:
    """JSON Lines with the app's defaults and no folder settings."""
    options = IntakeOptions(
        default_deployment=default_deployment, max_requests=max_requests, max_bytes=max_bytes
    )
    return read_input(chunks, sink, "jsonl", options)


def merge(
    requests: Iterable[bytes],
    outcomes: Outcomes,
    parts: dict[int, Part],
    attempts: Attempts | None = None,
) -> Iterator[dict[str, Any]]:
    """One result per work-index line (raw JSON), in order."""
    return merged_results(map(orjson.loads, requests), outcomes, parts, attempts or Attempts())
