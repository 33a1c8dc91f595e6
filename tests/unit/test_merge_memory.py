"""The merge's per-request state is compact past a usual job's size and gives the very same
results; what it reports about the service's odd lines is bounded (I11)."""

from __future__ import annotations

import random

import orjson
import pytest

from shared.jobs.model import Part
from shared.results import linestore
from shared.results.linestore import LineStore, blocks
from shared.results.merge import MergeFiles
from shared.results.outcomes import MAX_REPORTED, Outcomes
from shared.results.retry import Attempts
from tests.support import merge

PARTS = {
    0: Part(0, "d", "/chat/completions", 150, remote_status="completed"),
    1: Part(1, "d", "/chat/completions", 150, remote_status="expired"),
    2: Part(2, "d", "/chat/completions", 40, round=2, remote_status="completed"),
}


def answer(cid: str, status: int = 200, text: str = "ok") -> bytes:
    body = {"choices": [{"message": {"content": f"{text} {cid}"}, "finish_reason": "stop"}]}
    if status != 200:
        body = {"error": {"code": "server_error", "message": "try again"}}
    line = {"id": "b", "custom_id": cid, "response": {"status_code": status, "body": body}}
    return orjson.dumps(line)


def scenario() -> tuple[list[bytes], list[tuple[int, bytes]], list[str]]:
    """300 requests in parts 0 and 1, 40 of them retried in part 2; shuffled answers, a
    repeat in one part, unknown ids and a broken line."""
    rng = random.Random(5)
    ids = [f"req-{n}" for n in range(300)]
    index = [
        orjson.dumps({"line": n + 1, "custom_id": cid, "part": n // 150, "request": {}})
        for n, cid in enumerate(ids)
    ]
    first = [answer(cid, 500 if n % 7 == 0 else 200) for n, cid in enumerate(ids[:280])]
    first += [answer("req-3", text="again"), answer("stranger-1"), b"{broken"]
    rng.shuffle(first)
    retried = ids[::7][:40]
    second = [answer(cid, text="retried") for cid in retried] + [answer("stranger-2")]
    rng.shuffle(second)
    files = [(0, b"\n".join(first[:200]) + b"\n"), (1, b"\n".join(first[200:]))]
    return index, [*files, (2, b"\n".join(second) + b"\n")], retried


def run(outcomes: Outcomes, attempts: Attempts) -> tuple[list[dict], list[str], list[str]]:
    index, files, retried = scenario()
    for part, data in files:
        outcomes.add_file([data[i : i + 999] for i in range(0, len(data), 999)], "f", part)
    attempts.add_retry_part(retried, 2)
    rows = list(merge(index, outcomes, PARTS, attempts))
    return rows, sorted(outcomes.anomalies), sorted(outcomes.lines)


@pytest.mark.parametrize("hash_of", [hash, lambda key: hash(key) % 5], ids=["hash", "5-hashes"])
def test_the_compact_merge_gives_the_same_results_as_the_dict(hash_of):
    expected = run(Outcomes(), Attempts())
    compact = LineStore(dict_limit=0, hash_of=hash_of)
    got = run(Outcomes(lines=compact), Attempts(dict_limit=0, hash_of=hash_of))
    assert compact._places.compact  # noqa: SLF001 - the point of the test
    assert got == expected
    rows, anomalies, unknown = got
    assert len(rows) == 300 and unknown == ["stranger-1", "stranger-2"]
    assert [r["attempts"] for r in rows[:8]] == [2, 1, 1, 1, 1, 1, 1, 2]
    assert rows[7]["response"]["choices"][0]["message"]["content"] == "retried req-7"
    assert rows[3]["response"]["choices"][0]["message"]["content"] == "ok req-3"  # first kept
    assert any("returned twice" in a for a in anomalies)
    assert any("not a JSON object" in a for a in anomalies)
    assert rows[290]["error"]["code"] == "batch_expired"


def test_reports_of_unknown_ids_and_anomalies_are_bounded(tmp_path):
    outcomes = Outcomes()
    strangers = [answer(f"stranger-{n}") for n in range(MAX_REPORTED + 500)]
    broken = [b"[]"] * (MAX_REPORTED + 20)
    outcomes.add_file([b"\n".join(strangers + broken) + b"\n"], "out", 0)
    index = tmp_path / "requests.jsonl"
    index.write_bytes(orjson.dumps({"line": 1, "custom_id": "a", "part": 0, "request": {}}))
    MergeFiles(tmp_path, 3).run(index, outcomes, {0: PARTS[0]}, Attempts())
    assert len(outcomes.lines) == MAX_REPORTED
    assert len(outcomes.anomalies) == MAX_REPORTED + 2
    assert outcomes.anomalies[-2:] == [
        "500 more custom_id(s) the service returned are not in the input.",
        "20 more anomalies like these.",
    ]


def test_a_service_line_longer_than_the_limit_is_dropped_as_it_arrives(monkeypatch):
    monkeypatch.setattr(linestore, "MAX_LINE", 300)  # the app's 64 MiB, made small
    long_line = answer("long", text="x" * 500)
    data = answer("a") + b"\n" + long_line + b"\n" + answer("b") + b"\n" + long_line
    for size in (7, 64):  # chunks shorter than the line: its bytes are never gathered
        got = list(blocks([data[i : i + size] for i in range(0, len(data), size)]))
        lines = b"".join(got).split(b"\n")
        assert lines == [answer("a"), b"\x00", answer("b"), b"\x00", b""], size
    for size in (64, 1000):
        outcomes = Outcomes()
        outcomes.add_file([data[i : i + size] for i in range(0, len(data), size)], "out", 0)
        assert sorted(outcomes.lines) == ["a", "b"]
        assert outcomes.anomalies == [
            "out line 2: longer than 0 MiB; ignored.",
            "out line 4: longer than 0 MiB; ignored.",
        ]
