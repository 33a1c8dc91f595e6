"""`python -m devtools.imports`: the import graph of shared/, its longest chain and cycles.

The longest chain counts modules: `a -> b -> c` is 3 levels. Only imports that run at import
time count (those under `if TYPE_CHECKING:` do not); a package's `__init__` is its own node.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "shared"


def modules(root: Path = ROOT) -> dict[str, Path]:
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _runtime_imports(tree: ast.Module) -> Iterator[ast.ImportFrom | ast.Import]:
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node):
            if isinstance(sub, ast.Import | ast.ImportFrom):
                yield sub


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The shared modules `name` imports (a name imported from a package that is a module
    counts as that module)."""
    base = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in known)
            continue
        target = node.module or ""
        if node.level:
            target = ".".join(base.split(".")[: len(base.split(".")) - node.level + 1] + [target])
            target = target.rstrip(".")
        for alias in node.names:
            full = f"{target}.{alias.name}"
            if full in known:
                found.add(full)
            elif target in known:
                found.add(target)
    found.discard(name)
    return found


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    known = modules(root)
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle found by a depth-first search (each reported once per entry)."""
    found: list[list[str]] = []
    state, stack = dict.fromkeys(edges, 0), list[str]()

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state[nxt] == 1:
                found.append(stack[stack.index(nxt) :] + [nxt])
            elif state[nxt] == 0:
                visit(nxt)
        state[node], _ = 2, stack.pop()

    for node in sorted(edges):
        if state[node] == 0:
            visit(node)
    return found


def longest_chain(edges: dict[str, set[str]]) -> list[str]:
    """The longest import chain in an acyclic graph, as the list of its modules."""

    @cache
    def chain(node: str) -> tuple[str, ...]:
        best: tuple[str, ...] = max((chain(n) for n in edges[node]), key=len, default=())
        return (node, *best)

    longest: tuple[str, ...] = max((chain(n) for n in edges), key=len, default=())
    return list(longest)


def main() -> int:
    edges = graph()
    loops = cycles(edges)
    for loop in loops:
        print("cycle:", " -> ".join(loop))
    if loops:
        return 1
    chain = longest_chain(edges)
    print(f"{len(edges)} modules; longest import chain: {len(chain)} levels")
    print("  " + "\n  -> ".join(chain))
    return 0


if __name__ == "__main__":
    sys.exit(main())
