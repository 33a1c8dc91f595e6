"""The layout of shared/ (docs/architecture.md): imports flow one way, no cycles, shallow
chains, short modules, each with the one-line docstring that says what lives there."""

from __future__ import annotations

import ast
import subprocess

import pytest

from devtools.imports import ROOT, cycles, graph, longest_chain, modules

EDGES = graph()
MAX_CHAIN = 9
MAX_LINES = 300
# Lower layers never import higher ones: entry modules -> lifecycle -> intake / results ->
# batches -> jobs / storage -> config. `deps` wires everything and is imported for its type only.
ENTRY = {"shared.upload", "shared.poll", "shared.completion", "shared.http_api"}
FORBIDDEN = {
    "shared.config": ("shared.",),
    "shared.crash": ("shared.",),
    "shared.storage": (
        "shared.jobs",
        "shared.batches",
        "shared.intake",
        "shared.results",
        "shared.lifecycle",
    ),
    "shared.jobs": ("shared.storage", "shared.batches", "shared.intake", "shared.results"),
    "shared.batches": ("shared.intake", "shared.results", "shared.lifecycle"),
    "shared.intake": ("shared.results", "shared.lifecycle"),
    "shared.results": ("shared.intake", "shared.lifecycle"),
    "shared.lifecycle": tuple(ENTRY),
}


def test_no_import_cycles():
    assert cycles(EDGES) == []


def test_import_chains_are_shallow():
    chain = longest_chain(EDGES)
    assert len(chain) <= MAX_CHAIN, " -> ".join(chain)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_imports_flow_one_way(layer):
    wrong = [
        (module, target)
        for module, targets in EDGES.items()
        if module == layer or module.startswith(layer + ".")
        for target in targets
        if target != module
        and target.startswith(FORBIDDEN[layer])
        and not target.startswith(layer)
        and target != "shared.deps"
    ]
    assert wrong == []


def test_only_entry_modules_and_the_lifecycle_see_the_lifecycle():
    users = {m for m, targets in EDGES.items() for t in targets if t.startswith("shared.lifecycle")}
    assert {m for m in users if not m.startswith("shared.lifecycle")} <= ENTRY


def test_modules_are_short_and_say_what_they_hold():
    for name, path in modules().items():
        text = path.read_text()
        assert len(text.splitlines()) <= MAX_LINES, name
        docstring = ast.get_docstring(ast.parse(text))
        assert docstring and docstring.strip(), f"{name} has no docstring"


def test_shared_never_imports_devtools_or_the_function_app():
    for name, path in modules().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("devtools", "function_app")), name


def test_nothing_points_at_documents_outside_the_repository():
    """The team's own documents are not in a user's clone: refer to docs/ instead."""
    outside = ("quality" + ".md", "azure-facts" + ".md", "product" + ".md", "style" + ".md")
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in tracked:
        path = ROOT / name
        if path.suffix not in (".py", ".md", ".bicep", ".json", ".sh", ".ps1", ".txt", ".yaml"):
            continue
        text = path.read_text(errors="replace")
        found = [doc for doc in outside if doc in text]
        assert not found, f"{name} refers to {found}, which users do not have"


def test_architecture_doc_names_every_module():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for name in modules():
        if name != "shared":
            assert f"`{name.removeprefix('shared.').replace('.', '/')}" in doc, name
