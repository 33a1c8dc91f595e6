"""A blob trigger's path as the blob extension reads it (BlobPathSource and the WebJobs SDK's
BindingTemplateSource): `container/pattern`, where the pattern's `{name}` parameters match
any characters (`.*`, case-sensitive) and the rest must match literally (`{{` and `}}` are
literal braces). A blob whose path does not match is not delivered; one that matches gets
each parameter as binding data (the `{name}` of `inbox/{name}.jsonl` is the name without
`.jsonl`). A path without a `/` is a container: every blob in it matches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .bindings import BindingError

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]|[^{}]+")
_PARAMETER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class BlobPath:
    path: str
    container: str
    pattern: re.Pattern[str] | None  # None: the container alone, every blob matches
    parameters: tuple[str, ...]

    def match(self, container: str, name: str) -> dict[str, str] | None:
        """The binding data for this blob, or None when the trigger does not fire for it."""
        if container != self.container:
            return None
        if self.pattern is None:
            return {}
        found = self.pattern.match(f"{container}/{name}")
        if found is None:
            return None
        # A parameter named twice keeps its last value, as .NET's named groups do.
        return {param: found.group(f"p{i}") for i, param in enumerate(self.parameters)}


def parse(path: str) -> BlobPath:
    """Parse a resolved trigger path; BindingError for one the blob extension refuses."""
    container, slash, blob = path.partition("/")
    if (slash and (not container or not blob)) or "\\" in container:
        raise BindingError(
            f"Invalid blob trigger path '{path}'. Paths must be in the format 'container/blob'."
        )
    if "{" in container:
        raise BindingError(
            f"Invalid blob trigger path '{path}'. Container paths cannot contain {{resolve}} "
            "tokens."
        )
    if not slash:
        return BlobPath(path, container, None, ())
    regex, parameters = _capture_pattern(path)
    return BlobPath(path, container, re.compile(regex), parameters)


def _capture_pattern(path: str) -> tuple[str, tuple[str, ...]]:
    """`^literal(?<name>.*)literal$`, as BindingTemplateSource builds it."""
    regex: list[str] = ["^"]
    parameters: list[str] = []
    for token in _TOKEN.finditer(path):
        text, name = token.group(0), token.group(1)
        if name is not None:
            if not _PARAMETER.fullmatch(name):
                raise BindingError(f"Invalid template '{path}': '{{{name}}}' is not a parameter")
            regex.append(f"(?P<p{len(parameters)}>.*)")
            parameters.append(name)
        elif text in ("{", "}"):
            raise BindingError(f"Invalid template '{path}': unbalanced '{text}'")
        else:
            regex.append(re.escape(text.replace("{{", "{").replace("}}", "}")))
    regex.append("$")
    return "".join(regex), tuple(parameters)
