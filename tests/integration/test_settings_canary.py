"""Text from a folder's _job.json (a canary) never reaches LastError, the API's answer, the
telemetry or the logs when the settings reject the job: a template naming a missing column,
an unknown field named like the canary, a bad body, settings that are not JSON."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import run_until
from tests.integration.test_flow import jobs, upload
from tests.unit.telemetry_kit import recorded

CANARY = "CANARY9b1e secret recipe"


@pytest.fixture
def api(host) -> Iterator[str]:
    from devtools.host.http import serve

    server = serve(host.app, port=0)
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()


SETTINGS_CASES = {
    "template_names_missing_column": (
        "t.csv", b"city\nOslo\n", {"template": f"{CANARY} {{missing}}"}),
    "unknown_field_named_like_the_canary": (
        "u.jsonl", b'{"prompt": "x"}\n', {"system": "s", CANARY.replace(" ", "_"): 1}),
    "system_and_bad_body": (
        "b.jsonl", b'{"prompt": "x"}\n', {"system": CANARY, "body": {"stream": True}}),
    "invalid_settings_json": ("j.jsonl", b'{"prompt": "x"}\n', None),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(SETTINGS_CASES))
def test_canary_in_job_settings_stays_out_of_last_error_events_and_logs(
    case, app_env, host, api, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    app_env()
    deps = default_deps()
    name, data, settings = SETTINGS_CASES[case]
    raw = json.dumps(settings) if settings is not None else '{"system": "' + CANARY + '",}'
    inputs = deps.blobs.get_container_client(deps.settings.input_container)
    inputs.upload_blob("cs/_job.json", raw.encode())
    with recorded(tmp_path) as telemetry:
        upload(deps, f"cs/{name}", data)
        host.deliver_new_blobs()
        run_until(host, lambda: bool(jobs(deps)) and jobs(deps)[0].is_terminal, 30)
        [job] = jobs(deps)
        with urllib.request.urlopen(f"{api}/jobs/{job.job_id}") as answer:
            shown = answer.read().decode()
        everything = telemetry.path.read_text()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert job.status == JobStatus.REJECTED, (job.status, job.last_error)
    stem = CANARY.split()[0]
    assert stem not in job.last_error, job.last_error
    assert stem not in shown
    assert stem not in everything
    assert stem not in logged
