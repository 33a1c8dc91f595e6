"""GET /api/jobs paging while new jobs arrive, and name prefixes with odd
characters."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from shared.deps import default_deps
from tests.integration.test_flow import jobs, upload


@pytest.fixture
def api(host) -> Iterator[str]:
    from devtools.host.http import serve

    server = serve(host.app, port=0)
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()


def listed(api: str, **query: str) -> tuple[int, dict]:
    url = f"{api}/jobs?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(url) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"{}")


def drop(host, deps, names: list[str]) -> None:
    for name in names:
        upload(deps, name, b'{"prompt": "x"}\n')
    assert host.deliver_new_blobs() == len(names)


def test_paging_while_jobs_arrive_lists_every_earlier_job_once(app_env, host, api):
    app_env()
    deps = default_deps()
    first = [f"pg/a{i}.jsonl" for i in range(5)]
    drop(host, deps, first)
    seen: list[str] = []
    token = None
    for round_ in range(10):
        query = {"limit": "2", **({"next": token} if token else {})}
        code, page = listed(api, **query)
        assert code == 200, page
        seen += [j["input"]["name"] if isinstance(j["input"], dict) else j["input"]
                 for j in page["jobs"]]  # fmt: skip
        drop(host, deps, [f"pg/new{round_}.jsonl"])  # newer: listed before the token's place
        token = page["next"]
        if not token:
            break
    earlier = [s for s in seen if s.startswith("pg/a")]
    assert sorted(earlier) == sorted(first) and len(earlier) == len(set(earlier)), seen
    assert len(jobs(deps)) == 5 + round_ + 1


PREFIXES = {
    "quote": ("pq/it's.jsonl", "pq/it'"),
    "percent_and_hash": ("pq/50%#1.jsonl", "pq/50%#"),
    "astral": ("pq/😀x.jsonl", "pq/😀"),
    "private_use_end": ("pq/\uf8ffz.jsonl", "pq/\uf8ff"),
    "last_bmp_char": ("pq/\ufffdz.jsonl", "pq/\ufffd"),
    "upper_and_lower": ("pq/ABC.jsonl", "pq/AB"),
}


def test_an_odd_prefix_finds_its_job(app_env, host, api):
    app_env()
    deps = default_deps()
    drop(host, deps, [name for name, _ in PREFIXES.values()] + ["pq/other.jsonl"])
    for case, (name, prefix) in sorted(PREFIXES.items()):
        code, page = listed(api, prefix=prefix)
        assert code == 200, (case, page)
        names = [j["input"]["name"] if isinstance(j["input"], dict) else j["input"]
                 for j in page["jobs"]]  # fmt: skip
        assert names == [name], (case, page)
