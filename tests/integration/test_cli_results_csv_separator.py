# ruff: noqa: F811 - the fixtures of test_cli.py are imported by name and used as arguments
"""`batchdrop results --csv` of a semicolon CSV whose header holds a quoted column name full of
commas: results.csv is written with semicolons (the input's own), and the preview reads it so,
from the job's job.json while its work files are kept, else from the file itself."""

from __future__ import annotations

import pytest

from shared.deps import default_deps
from shared.storage.names import JOB_META, work_prefix
from tests.integration.test_cli import cli, running  # noqa: F401 - fixtures
from tests.integration.test_flow import jobs

SEMI = 'prompt;"a,b,c,d,e,f,g,h,i,j"\nDescribe Oslo;x\nDescribe Lima;y\n'


def header_cells(shown: str) -> list[str]:
    header = next(line for line in shown.splitlines() if "custom_id" in line)
    return [cell.strip() for cell in header.strip("┃ ").split("┃")]


@pytest.mark.parametrize("failed", [0, 1], ids=["cleaned", "job.json kept"])
def test_csv_preview_of_a_semicolon_csv_with_commas_in_a_column_name(
    failed, cli, running, emulator, tmp_path
):
    if failed:  # a failed request keeps the job's job.json, which records the separator
        emulator.set_faults([{"kind": "line_failure", "status_code": 400, "times": 1}])
    data = tmp_path / "semi.csv"
    data.write_text(SEMI)
    try:
        code, out = cli("submit", str(data), "--wait", "--interval", "0.2", "--timeout", "60")
    finally:
        emulator.clear_faults()
    assert code == failed, out
    deps = default_deps()
    [job] = jobs(deps)
    assert deps.work.get_blob_client(work_prefix(job.job_id) + JOB_META).exists() == bool(failed)
    code, shown = cli("results", "semi.csv", "--csv")
    assert code == 0, shown
    assert header_cells(shown)[:5] == [
        "custom_id",
        "line",
        "status",
        "prompt",
        "a,b,c,d,e,f,g,h,i,j",
    ]
    assert "Describe Oslo" in shown and "Describe Lima" in shown, shown
