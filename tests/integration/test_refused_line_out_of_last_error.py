"""A batch the service refuses with an error about one line (its message
quotes the line's deployment): README says LastError gives such an error's code and line
only, since its message may quote the request."""

from __future__ import annotations

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import jsonl, run_until
from tests.integration.test_flow import chat, jobs, upload

ODD = "gptCANARY5e"


def test_a_refused_line_s_message_stays_out_of_last_error(app_env, host):
    app_env()
    deps = default_deps()
    upload(deps, "rf/q.jsonl", jsonl([chat("r1", "a", model=ODD), chat("r2", "b", model=ODD)]))
    assert host.deliver_new_blobs() == 1
    run_until(host, lambda: jobs(deps)[0].is_terminal and jobs(deps)[0].cleaned, 30)
    [done] = jobs(deps)
    assert done.status == JobStatus.FAILED, (done.status, done.last_error)
    assert "model_not_found" in done.last_error, done.last_error
    assert "was not found" not in done.last_error, done.last_error  # the service's message
