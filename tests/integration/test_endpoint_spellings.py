"""The same Azure OpenAI resource under another spelling of AZURE_OPENAI_ENDPOINT (pasted
with /openai/v1/ or /openai/, or another host name for it) is not another endpoint: a job
sent before the change completes after it."""

from __future__ import annotations

import pytest

from shared.deps import default_deps
from shared.jobs.model import JobStatus
from tests.conftest import jsonl, run_until
from tests.integration.test_flow import chat, jobs, upload


def _point_at(monkeypatch, url: str) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", url)
    default_deps.cache_clear()


@pytest.mark.parametrize("form", ["{url}/openai/v1/", "{url}/openai/", "{local}"])
def test_the_same_resource_under_another_spelling_is_not_another_endpoint(
    form, app_env, host, emulator, monkeypatch
):
    """README: an endpoint pasted with /openai/v1/ or /openai/ is the same; a custom domain of
    the same resource works (the endpoint is asked for the batch first)."""
    app_env()
    deps = default_deps()
    upload(deps, "sp/q.jsonl", jsonl([chat(f"s{i}", "x") for i in range(2)]))
    assert host.deliver_new_blobs() == 1
    local = emulator.url.replace("127.0.0.1", "localhost")
    _point_at(monkeypatch, form.format(url=emulator.url, local=local))
    run_until(host, lambda: jobs(default_deps())[0].cleaned, 30)
    [done] = jobs(default_deps())
    assert done.status == JobStatus.COMPLETED, (done.status, done.last_error)
    assert done.succeeded == 2
