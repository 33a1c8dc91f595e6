"""The functions registered in function_app.py, indexed by trigger type."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from shared.config import DEFAULTS

SETTING = re.compile(r"%([^%]+)%")


@dataclass(frozen=True)
class Registered:
    name: str
    trigger: dict[str, Any]
    function: Callable[..., Any]

    @property
    def arg_name(self) -> str:
        return str(self.trigger["name"])


def resolve(expression: str, env: Mapping[str, str] | None = None) -> str:
    """Expand %SETTING% like the host does; our own defaults stand in for unset settings."""
    env = os.environ if env is None else env

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = env.get(name) or DEFAULTS.get(name)
        if not found:
            raise KeyError(f"binding refers to %{name}%, which is not set")
        return found

    return SETTING.sub(value, expression)


@cache
def registry(app: Any) -> dict[str, Registered]:
    """app.get_functions() may run once per process (a second call fails): cache it."""
    found = {}
    for fn in app.get_functions():
        trigger = next(
            b for b in fn.get_bindings_dict()["bindings"] if b["type"].endswith("Trigger")
        )
        found[fn.get_function_name()] = Registered(
            fn.get_function_name(), trigger, fn.get_user_function()
        )
    return found


def by_type(app: Any, trigger_type: str) -> list[Registered]:
    return [r for r in registry(app).values() if r.trigger["type"] == trigger_type]
