"""An upload the service acts on after the client's timeout (a request held up in the
network), as F3 describes for creates: the look-up right after the timeout cannot see it, so
the part is uploaded again under its next name and the job finishes. The held upload lands
later: I6 promises that every file the app uploaded is deleted once the job ends."""

from __future__ import annotations

import time

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import files_left, jsonl
from tests.integration.attack9_kit import emulator_with, pump
from tests.integration.attack9_proxy import SlowLink
from tests.integration.test_flow import chat, jobs, upload

TIMEOUT = 1.0  # AZURE_OPENAI_TIMEOUT_SECONDS
LATE = 2.5  # the first upload reaches the service this long after it was sent


def test_an_upload_that_lands_after_the_timeout_is_not_left_at_the_service(app_env, host):
    with emulator_with(in_progress=1.0) as emu, SlowLink(emu.url, r"/files$", 0, LATE) as link:
        app_env(AZURE_OPENAI_ENDPOINT=link.url, AZURE_OPENAI_TIMEOUT_SECONDS=str(TIMEOUT))
        deps = default_deps()
        upload(deps, "held.jsonl", jsonl([chat("a", "x"), chat("b", "y")]))
        sent = time.monotonic()
        pump(
            host, lambda: bool(jobs(deps)) and all(j.is_terminal and j.cleaned for j in jobs(deps))
        )
        assert link.started.is_set()
        time.sleep(max(0.0, LATE + 1 - (time.monotonic() - sent)))  # the held upload landed
        [job] = jobs(deps)
        assert job.status == JobStatus.COMPLETED, job.last_error
        assert files_left(emu, job.job_id) == []
