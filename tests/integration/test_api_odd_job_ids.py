"""Odd job ids in the HTTP API's paths: every one is a 404 (no such job),
never a 500."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest


@pytest.fixture
def api(host) -> Iterator[str]:
    from devtools.host.http import serve

    server = serve(host.app, port=0)
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()


IDS = ["a" * 2000, "a'b", "x%00y", "%E2%80%AE", "ab#c", "a\\b", "%20", "\u00e9" * 400, "a%2Fb"]


def status(method: str, url: str) -> int:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


@pytest.mark.parametrize("job_id", IDS)
def test_an_odd_job_id_is_a_404(job_id, app_env, api):
    app_env()
    quoted = urllib.parse.quote(job_id, safe="%")
    got = [
        status("GET", f"{api}/jobs/{quoted}"),
        status("POST", f"{api}/jobs/{quoted}/cancel"),
        status("POST", f"{api}/jobs/{quoted}/retry"),
    ]
    assert all(code in (400, 404) for code in got), got
