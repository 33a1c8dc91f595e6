"""Prompt templates: `{field}` names a column or a line's field, nothing else of str.format."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True)
class Template:
    """A prompt template naming fields as {field}; nothing else of str.format is allowed."""

    text: str
    pieces: tuple[tuple[str, str | None], ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for _, name in self.pieces if name is not None))

    def missing(self, values: Mapping[str, Any]) -> list[str]:
        return [name for name in self.fields if name not in values]

    def render(self, values: Mapping[str, Any]) -> str:
        return "".join(
            literal + (_text(values[name]) if name is not None else "")
            for literal, name in self.pieces
        )


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value).decode()


def parse_template(text: str) -> Template | str:
    """The template's pieces, or what is wrong with it."""
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        return f"{exc}; write literal braces as {{{{ and }}}}."
    pieces = tuple(_piece(literal, name, spec, conv) for literal, name, spec, conv in parts)
    bad = [p for p in pieces if isinstance(p, str)]
    if bad:
        return bad[0]
    good = tuple(p for p in pieces if not isinstance(p, str))
    if not any(name for _, name in good):
        return 'names no field; write e.g. "Summarise: {text}" where text is a column or key.'
    return Template(text, good)


def _piece(literal: str, name: str | None, spec: str | None, conv: str | None) -> Any:
    if name is None:
        return (literal, None)
    if not name or spec or conv or any(c in name for c in ".[]"):
        return f"{{{name}}} is not a plain field name; write {{column}} with nothing else inside."
    return (literal, name)
