"""LastError (the job row, the HTTP API, the JobStateChanged event) never carries input text:
a rejected file's reason gives counts, codes and line numbers, while errors.jsonl keeps the
full messages, which may quote the file's cells."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from shared.telemetry import events
from tests.conftest import read_jsonl
from tests.integration.test_flow import jobs, output, upload
from tests.unit.telemetry_kit import recorded

SECRET = "CANARY7f3a the secret recipe"


@pytest.fixture
def api(host) -> Iterator[str]:
    from devtools.host.http import serve

    server = serve(host.app, port=0)
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()


def test_a_rejected_csv_keeps_its_cells_out_of_last_error_the_api_and_events(
    app_env, host, api, tmp_path
):
    """A spreadsheet export with a trailing separator in the header (`prompt,`) and text in
    that unnamed column: the problem's message quotes the cell; LastError must not."""
    app_env()
    deps = default_deps()
    data = f"prompt,\nDescribe Paris,{SECRET}\nDescribe Rome,{SECRET}\n".encode()
    with recorded(tmp_path) as telemetry:
        upload(deps, "leak/rows.csv", data)
        assert host.deliver_new_blobs() == 1
        [job] = jobs(deps)
        with urllib.request.urlopen(f"{api}/jobs/{job.job_id}") as answer:
            shown = answer.read().decode()
        changed = json.dumps(telemetry.events(events.STATE_CHANGED))
        everything = telemetry.path.read_text()
    problems = read_jsonl(output(deps, "leak/rows.csv/errors.jsonl") or b"")

    assert job.status == JobStatus.REJECTED
    assert "CANARY7f3a" not in job.last_error, job.last_error
    assert "unnamed_column (line 2)" in job.last_error, job.last_error
    assert "CANARY7f3a" not in shown and "unnamed_column" in shown
    assert "CANARY7f3a" not in changed and "unnamed_column" in changed
    assert "CANARY7f3a" not in everything
    assert any(SECRET in p["error"]["message"] for p in problems)  # the full message is kept
