"""The work container emptied in the middle of a person's retry. README:
the job's own container without its files fails the job at once with that reason; a retry
that cannot go on ends `failed` and keeps the outputs it started from."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from shared.storage import blobs
from shared.storage.names import work_prefix
from tests.conftest import jsonl, read_jsonl, run_until
from tests.integration.test_flow import chat, jobs, output, summary_of, upload


@pytest.fixture
def api(host) -> Iterator[str]:
    from devtools.host.http import serve

    server = serve(host.app, port=0)
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()


def test_work_files_emptied_during_a_retry(app_env, host, emulator, api):
    app_env()
    deps = default_deps()
    emulator.set_faults([{"kind": "line_failure", "custom_id": "^w-1$", "status_code": 400,
                          "attempts": 1}])  # fmt: skip
    try:
        upload(deps, "wr/q.jsonl", jsonl([chat(f"w-{i}", f"q{i}") for i in range(3)]))
        assert host.deliver_new_blobs() == 1
        run_until(host, lambda: summary_of(deps, "wr/q") is not None and jobs(deps)[0].cleaned)
        before = output(deps, "wr/q/results.jsonl")
        job_id = jobs(deps)[0].job_id
        req = urllib.request.Request(f"{api}/jobs/{job_id}/retry", method="POST")
        with urllib.request.urlopen(req) as answer:
            assert answer.status == 202
        run_until(host, lambda: jobs(deps)[0].first_part > 0 and jobs(deps)[0].parts[-1].batch_id)
        for name in blobs.names_under(deps.work, work_prefix(job_id)):
            blobs.delete_quietly(deps.work, name)
        run_until(host, lambda: jobs(deps)[0].is_terminal and jobs(deps)[0].retry is None
                  and jobs(deps)[0].cleaned, 30)  # fmt: skip
    finally:
        emulator.clear_faults()
    [done] = jobs(deps)
    after = output(deps, "wr/q/results.jsonl")
    assert done.status == JobStatus.FAILED, (done.status, done.last_error)
    assert "work files" in done.last_error and "Gave up" not in done.last_error, done.last_error
    assert done.step_failures <= 1
    assert after == before and len(read_jsonl(after or b"")) == 3  # the outputs it started from
