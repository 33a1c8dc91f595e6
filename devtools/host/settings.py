"""Reads settings like Core Tools: the environment first, then local.settings.json Values."""

from __future__ import annotations

import json
import os
from pathlib import Path


def load_local_settings(path: Path = Path("local.settings.json")) -> list[str]:
    """Copy Values missing from the environment into it; returns the names it set."""
    if not path.exists():
        return []
    try:
        values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    except json.JSONDecodeError as exc:
        raise SystemExit(f"{path} is not valid JSON: {exc}") from None
    applied = []
    for name, value in values.items():
        if name not in os.environ and isinstance(value, str):
            os.environ[name] = value
            applied.append(name)
    return applied
