"""Deterministic JSON values that conform to a (structured-outputs subset of) JSON Schema.

Supported: type (incl. lists), const, enum, anyOf/oneOf, allOf of objects, $ref to
#/$defs or #/definitions, object properties, array items/minItems/maxItems, string
minLength/maxLength/format, number and integer minimum/maximum (inclusive and exclusive).
`pattern` is not honoured.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

MAX_DEPTH = 8
WORDS = ("alpha", "bravo", "cedar", "delta", "ember", "fjord", "grove", "harbor")


def fake_value(schema: Any, seed: str) -> Any:
    """A value for `schema`; `seed` (e.g. a request hash) makes it deterministic."""
    return _Faker(schema).value(schema, seed, 0)


def _number(seed: str) -> int:
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")


class _Faker:
    def __init__(self, root: Any) -> None:
        self.root = root

    def value(self, schema: Any, seed: str, depth: int) -> Any:
        if not isinstance(schema, dict):
            return None
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][_number(seed) % len(schema["enum"])]
        options = schema.get("anyOf") or schema.get("oneOf")
        if options:
            return self.value(self.choose(options), seed + "|any", depth)
        if schema.get("allOf"):
            return self.value(self.merge(schema["allOf"]), seed, depth)
        return self.typed(schema, _type_of(schema), seed, depth)

    def resolve(self, schema: dict) -> dict:
        ref = schema.get("$ref")
        for _ in range(MAX_DEPTH):
            if not isinstance(ref, str) or not ref.startswith("#/"):
                return schema
            target: Any = self.root
            for key in ref[2:].split("/"):
                target = target.get(key, {}) if isinstance(target, dict) else {}
            schema = target if isinstance(target, dict) else {}
            ref = schema.get("$ref")
        return schema

    def choose(self, options: list) -> Any:
        # Prefer a non-null branch so answers carry data.
        for option in options:
            if _type_of(self.resolve(option) if isinstance(option, dict) else {}) != "null":
                return option
        return options[0]

    def merge(self, parts: list) -> dict:
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for part in parts:
            part = self.resolve(part) if isinstance(part, dict) else {}
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return merged

    def typed(self, schema: dict, kind: str, seed: str, depth: int) -> Any:
        if kind == "object":
            return self.obj(schema, seed, depth)
        if kind == "array":
            return self.array(schema, seed, depth)
        return SCALARS.get(kind, _null)(schema, seed)

    def obj(self, schema: dict, seed: str, depth: int) -> dict:
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        names = [n for n in properties if depth < MAX_DEPTH or n in required]
        return {name: self.value(properties[name], f"{seed}.{name}", depth + 1) for name in names}

    def array(self, schema: dict, seed: str, depth: int) -> list:
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", max(low, 2)))
        count = low if depth >= MAX_DEPTH else max(low, min(high, 2))
        items = schema.get("items", {})
        return [self.value(items, f"{seed}[{i}]", depth + 1) for i in range(count)]


def _type_of(schema: dict) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        non_null = [k for k in kind if k != "null"]
        kind = non_null[0] if non_null else "null"
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _string(schema: dict, seed: str) -> str:
    formatted = _formatted(schema.get("format"), seed)
    if formatted is not None:
        return formatted
    n = _number(seed)
    text = f"{WORDS[n % len(WORDS)]}-{n % 9973}"
    low = int(schema.get("minLength", 0))
    high = int(schema.get("maxLength", max(low, len(text))))
    text = text.ljust(low, "x")
    return text[:high]


def _formatted(fmt: Any, seed: str) -> str | None:
    n = _number(seed)
    if fmt == "date-time":
        return f"2024-{n % 12 + 1:02d}-{n % 28 + 1:02d}T{n % 24:02d}:00:00Z"
    if fmt == "date":
        return f"2024-{n % 12 + 1:02d}-{n % 28 + 1:02d}"
    if fmt == "email":
        return f"{WORDS[n % len(WORDS)]}@example.com"
    if fmt == "uuid":
        digest = hashlib.sha256(seed.encode()).hexdigest()
        return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"
    if fmt in ("uri", "url"):
        return f"https://example.com/{WORDS[n % len(WORDS)]}"
    return None


def _range(schema: dict) -> tuple[float, float]:
    low = schema.get("exclusiveMinimum", schema.get("minimum"))
    high = schema.get("exclusiveMaximum", schema.get("maximum"))
    if low is None:
        low = 0 if high is None or high >= 100 else high - 100
    if high is None:
        high = low + 100
    return low, max(low, high)


def _integer(schema: dict, seed: str) -> int:
    low, high = _range(schema)
    low_i = math.floor(low) + 1 if "exclusiveMinimum" in schema else math.ceil(low)
    high_i = math.ceil(high) - 1 if "exclusiveMaximum" in schema else math.floor(high)
    return low_i + _number(seed) % max(1, high_i - low_i + 1)


def _float(schema: dict, seed: str) -> float:
    low, high = _range(schema)
    # Strictly inside the range, so exclusive bounds hold as well.
    return low + (high - low) * (_number(seed) % 1000 + 1) / 1001


def _boolean(schema: dict, seed: str) -> bool:
    return _number(seed) % 2 == 0


def _null(schema: dict, seed: str) -> None:
    return None


SCALARS = {
    "string": _string,
    "integer": _integer,
    "number": _float,
    "boolean": _boolean,
    "null": _null,
}
