"""Parse the deployment files the way CI checks them, without a Bicep compiler; print JSON.

Runs in the infra-checks venv (infra/requirements-checks.txt), which has pycep-parser (the
parser checkov uses) and PyYAML. Output: {"bicep": {path: tree}, "errors": {path: message},
"azure_yaml": {...}}, paths relative to infra/. A file pycep cannot parse lands in "errors",
because checkov would silently skip it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml
from pycep import BicepParser


def main(repo: Path) -> None:
    infra = repo / "infra"
    parser = BicepParser()
    trees: dict[str, object] = {}
    errors: dict[str, str] = {}
    for path in sorted(infra.rglob("*.bicep")):
        name = path.relative_to(infra).as_posix()
        try:
            trees[name] = parser.parse(file_path=path)
        except Exception as exc:  # pycep raises lark errors of several kinds
            errors[name] = f"{type(exc).__name__}: {exc}"
    azure_yaml = yaml.safe_load((repo / "azure.yaml").read_text(encoding="utf-8"))
    json.dump({"bicep": trees, "errors": errors, "azure_yaml": azure_yaml}, sys.stdout, default=str)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2])
