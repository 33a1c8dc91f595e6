"""The names the Functions host accepts, from azure-functions-host's Utility.cs: a function
that breaks them is "in error" and never runs; the Python runtime itself does not check them.

- Function names: `^[a-z][a-z0-9_\\-]{0,127}$(?<!^host$)`, ignoring case (so 1 to 128
  characters, a letter first, and not `host`).
- Binding names: `^(?!.*__)([a-zA-Z_][a-zA-Z0-9_]{0,127}|\\$return)$` (host 4.1038 and later,
  which allowed snake case: a letter or `_` first, letters, digits and `_`, never `__`), and
  no two bindings of a function with the same name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

FUNCTION_NAME = re.compile(r"[a-z][a-z0-9_\-]{0,127}", re.IGNORECASE | re.ASCII)
BINDING_NAME = re.compile(r"(?!.*__)([a-zA-Z_][a-zA-Z0-9_]{0,127}|\$return)", re.ASCII)


def function_name_problem(name: str) -> str | None:
    """Azure's message and the fix, or None for a name the host accepts."""
    if FUNCTION_NAME.fullmatch(name) and name.lower() != "host":
        return None
    return (
        f"'{name}' is not a valid function name. (fix: name it with 1 to 128 letters, digits, "
        "'_' or '-', starting with a letter, and not 'host': @app.function_name(\"...\") or "
        "the Python function's name)"
    )


def binding_name_problems(bindings: Iterable[Mapping[str, Any]]) -> list[str]:
    """Azure's message and the fix for every binding name the host refuses."""
    problems = []
    seen: set[str] = set()
    for binding in bindings:
        name = str(binding.get("name", ""))
        if not BINDING_NAME.fullmatch(name):
            problems.append(
                f"The binding name {name} is invalid. Please assign a valid name to the "
                "binding. (fix: use up to 128 letters, digits and '_', starting with a letter "
                "or '_', without '__'; it is the decorator's arg_name and the parameter's name)"
            )
        elif name.lower() in seen:
            problems.append(
                f"Multiple bindings with name '{name}' discovered. Binding names must be unique."
            )
        seen.add(name.lower())
    return problems
