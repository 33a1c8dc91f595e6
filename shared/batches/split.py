"""Splitting requests into parts: one batch per deployment, a new one when a part is full."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class PartPlan:
    """A part being filled: which deployment and url spelling, and how full it is."""

    index: int
    deployment: str
    url: str
    count: int = 0
    bytes: int = 0
    tokens: int = 0


class Splitter:
    """Assigns requests to parts within Azure's limits (and the app's token limit).

    Part numbers start at `first_index`, so a retry round continues the job's numbering.
    """

    def __init__(
        self, max_requests: int, max_bytes: int, max_tokens: int = 0, first_index: int = 0
    ) -> None:
        self.max_requests = max_requests
        self.max_bytes = max_bytes
        self.max_tokens = max_tokens
        self.first_index = first_index
        self.parts: list[PartPlan] = []
        self._open: dict[str, PartPlan] = {}

    def place(
        self, deployment: str, url: str, size_for: Callable[[str], int], tokens: int
    ) -> PartPlan:
        """The part for one request. Its uploaded line uses its part's url spelling (Azure
        wants one spelling per file; chat has two), so `size_for(url)` gives its size."""
        part = self._open.get(deployment)
        tokens = tokens if self.max_tokens else 0
        size = size_for(url if part is None else part.url)
        if part is None or self._full(part, size, tokens):
            if part is not None and part.url != url:
                size = size_for(url)  # a new part takes the request's own spelling
            part = self._new(deployment, url)
        part.count += 1
        part.bytes += size
        part.tokens += tokens
        return part

    def _new(self, deployment: str, url: str) -> PartPlan:
        part = PartPlan(self.first_index + len(self.parts), deployment, url)
        self.parts.append(part)
        self._open[deployment] = part
        return part

    def _full(self, part: PartPlan, size: int, tokens: int) -> bool:
        return (
            part.count + 1 > self.max_requests
            or part.bytes + size > self.max_bytes
            or (self.max_tokens > 0 and part.tokens + tokens > self.max_tokens)
        )
