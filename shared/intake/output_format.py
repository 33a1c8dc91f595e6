"""Structured output (a JSON schema or JSON mode) for chat and Responses requests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OutputFormat:
    """Structured output, independent of the endpoint it is sent to."""

    type: str  # json_schema | json_object
    schema: dict[str, Any] | None = None
    name: str = "answer"
    strict: bool = True

    def chat(self) -> dict[str, Any]:
        if self.type != "json_schema":
            return {"type": self.type}
        spec = {"name": self.name, "schema": self.schema, "strict": self.strict}
        return {"type": "json_schema", "json_schema": spec}

    def responses(self) -> dict[str, Any]:
        if self.type != "json_schema":
            return {"type": self.type}
        return {
            "type": "json_schema",
            "name": self.name,
            "schema": self.schema,
            "strict": self.strict,
        }


def strict_gap(schema: Any) -> str | None:
    """Why a schema cannot be used in strict mode (every object closed, every field required)."""
    for where, node in _objects(schema, "the root"):
        props = _properties(node)
        if node.get("additionalProperties") is not False:
            return f'{where} lacks "additionalProperties": false'
        if set(node.get("required") or ()) != set(props):
            return f"{where} does not list every property in required"
    return None


def _objects(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(node, dict):
        return
    if node.get("type") == "object" or "properties" in node:
        yield where, node
    for key, child in _properties(node).items():
        yield from _objects(child, f'property "{key}"')
    yield from _objects(node.get("items"), f"the items of {where}")
    for defs in ("$defs", "definitions"):
        found = node.get(defs)
        for key, child in (found if isinstance(found, dict) else {}).items():
            yield from _objects(child, f'definition "{key}"')


def _properties(node: dict[str, Any]) -> dict[str, Any]:
    props = node.get("properties")
    return props if isinstance(props, dict) else {}
