# ruff: noqa: F811 - the fixtures of test_cli.py are imported by name and used as arguments
"""`batchdrop results --csv` of a wide CSV (the app takes up to 10,000
columns): the preview is bounded in rows and cell length, but not in columns."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.conftest import ROOT
from tests.integration.test_cli import cli, running  # noqa: F401 - fixtures

COLUMNS = 5000


def test_results_csv_preview_of_a_wide_csv_is_quick_and_bounded(cli, running, tmp_path):
    data = tmp_path / "wide.csv"
    header = "prompt," + ",".join(f"c{i}" for i in range(COLUMNS))
    row = ",".join(["Describe Oslo"] + [str(i) for i in range(COLUMNS)])
    data.write_text(f"{header}\n{row}\n")
    code, out = cli("submit", str(data), "--wait", "--interval", "0.2", "--timeout", "90")
    assert code == 0, out[-500:]
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "batchdrop_cli", "results", "wide.csv", "--csv"],
        cwd=ROOT, env={**os.environ, "COLUMNS": "120"}, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    took = time.monotonic() - started
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-500:]
    print(f"took {took:.1f} s, {len(out):,} characters, {len(out.splitlines())} lines")
    assert took < 15 and len(out) < 50_000, (took, len(out), out[:300])
