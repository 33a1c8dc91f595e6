import orjson

from shared.jobs.model import Part
from shared.results.outcomes import Outcomes
from shared.results.tally import Tally
from tests.support import merge

PART = Part(0, "d", "/v1/chat/completions", 4, remote_status="completed")


def record(cid, line):
    return orjson.dumps(
        {
            "line": line,
            "custom_id": cid,
            "part": 0,
            "request": {"model": "d", "messages": [{"role": "user", "content": cid}]},
        }
    )


def ok(cid, tokens=3):
    return orjson.dumps(
        {
            "id": "x",
            "custom_id": cid,
            "error": None,
            "response": {
                "status_code": 200,
                "request_id": "r",
                "body": {
                    "choices": [{"message": {"content": f"A {cid}"}}],
                    "usage": {
                        "prompt_tokens": tokens,
                        "completion_tokens": 1,
                        "total_tokens": tokens + 1,
                    },
                },
            },
        }
    )


def failed(cid, status=429):
    return orjson.dumps(
        {
            "id": "y",
            "custom_id": cid,
            "error": None,
            "response": {
                "status_code": status,
                "request_id": "r",
                "body": {"error": {"code": "too_many", "message": "slow down"}},
            },
        }
    )


def test_merge_restores_input_order_and_marks_outcomes():
    outcomes = Outcomes()
    outcomes.add_file([ok("c") + b"\n" + ok("a") + b"\n"], "out")
    outcomes.add_file([failed("b")], "err")
    rows = list(merge([record(c, i + 1) for i, c in enumerate("abcd")], outcomes, {0: PART}))
    assert [r["custom_id"] for r in rows] == ["a", "b", "c", "d"]
    assert [r["line"] for r in rows] == [1, 2, 3, 4]
    assert [r["status"] for r in rows] == ["succeeded", "failed", "succeeded", "failed"]
    assert rows[0]["response"]["choices"][0]["message"]["content"] == "A a"
    assert rows[0]["request"]["messages"][0]["content"] == "a"
    assert rows[1]["error"]["code"] == "too_many" and rows[1]["error"]["status_code"] == 429
    assert rows[3]["error"]["code"] == "missing_from_output"
    assert all(r["attempts"] == 1 for r in rows)


def test_duplicates_and_junk_in_service_output_are_reported_not_merged():
    outcomes = Outcomes()
    outcomes.add_file([ok("a") + b"\n" + ok("a", 9) + b"\nnot json\n" + ok("zzz")], "out")
    rows = list(merge([record("a", 1)], outcomes, {0: PART}))
    assert rows[0]["response"]["usage"]["prompt_tokens"] == 3
    assert len(outcomes.anomalies) == 2
    assert list(outcomes.lines) == ["zzz"]  # left over: unknown custom_id


def test_missing_lines_explained_by_the_batch_fate():
    expired = Part(0, "d", "/v1/chat/completions", 1, remote_status="expired")
    rows = list(merge([record("a", 1)], Outcomes(), {0: expired}))
    assert rows[0]["error"]["code"] == "batch_expired"
    refused = Part(
        0,
        "d",
        "u",
        1,
        remote_status="failed",
        errors=({"code": "invalid_json_line", "message": "bad"},),
    )
    rows = list(merge([record("a", 1)], Outcomes(), {0: refused}))
    assert rows[0]["error"]["code"] == "invalid_json_line"


def test_tally_sums_usage_of_both_api_shapes():
    tally = Tally()
    tally.add(
        {
            "status": "succeeded",
            "response": {"usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}},
        }
    )
    tally.add(
        {
            "status": "succeeded",
            "response": {"usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}},
        }
    )
    tally.add({"status": "failed", "response": None})
    assert (tally.total, tally.succeeded, tally.failed) == (3, 2, 1)
    assert tally.usage == {
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
        "reasoning_tokens": 0,
    }
