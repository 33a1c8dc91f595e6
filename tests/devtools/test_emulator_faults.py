"""The emulator's fault rules, existing and new, each through the real openai SDK."""

from __future__ import annotations

import json
import re
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import openai
import orjson
import pytest

from devtools.emulator import Emulator, EmulatorConfig, RuleError, Timings
from tests.devtools.kit import (
    DEPLOYMENT,
    KEY,
    chat_file,
    chat_line,
    dated_client,
    jsonl,
    make_emulator,
    raw_request,
    read_lines,
    run_batch,
    upload,
    v1_client,
    wait_final,
)

# ----- the original kinds ------------------------------------------------------------------


def test_line_failures_and_retry_success(emu: Emulator) -> None:
    emu.set_faults(
        [
            {"kind": "line_failure", "custom_id": "^c1$", "status_code": 429, "attempts": 1},
            {"kind": "line_failure", "custom_id": "^c2$", "status_code": 0},
            {"kind": "line_failure", "custom_id": "^c3$", "status_code": 500, "shape": "error"},
        ]
    )
    client = v1_client(emu.url)
    batch = run_batch(client, chat_file(5))
    assert batch.status == "completed"
    assert batch.request_counts is not None and batch.request_counts.failed == 3
    errors = {line["custom_id"]: line for line in read_lines(client, batch.error_file_id)}
    assert set(errors) == {"c1", "c2", "c3"}
    assert errors["c1"]["response"]["status_code"] == 429
    assert errors["c1"]["response"]["body"]["error"]["code"] == "429"
    assert errors["c2"]["response"]["status_code"] == 0
    assert errors["c3"]["response"] is None and errors["c3"]["error"]["code"]
    assert {x["custom_id"] for x in read_lines(client, batch.output_file_id)} == {"c0", "c4"}
    retry = run_batch(client, jsonl([chat_line("c1", "question 1")]))
    assert retry.request_counts is not None and retry.request_counts.completed == 1


def test_all_lines_failing_leaves_no_output_file(emu: Emulator) -> None:
    emu.set_faults([{"kind": "line_failure", "status_code": 400}])
    client = dated_client(emu.url)
    batch = run_batch(client, chat_file(4))
    assert batch.status == "completed" and batch.output_file_id is None
    errors = read_lines(client, batch.error_file_id)
    assert sorted(x["custom_id"] for x in errors) == ["c0", "c1", "c2", "c3"]
    assert {x["response"]["body"]["error"]["code"] for x in errors} == {"content_filter"}


def test_forced_expiry_returns_partial_output(emu: Emulator) -> None:
    emu.set_faults([{"kind": "batch_outcome", "status": "expired", "fraction": 0.5}])
    client = v1_client(emu.url)
    batch = run_batch(client, chat_file(10))
    assert batch.status == "expired" and batch.expired_at is not None
    output = read_lines(client, batch.output_file_id)
    errors = read_lines(client, batch.error_file_id)
    assert len(output) == 5
    assert {x["error"]["code"] for x in errors} == {"batch_expired"}
    assert sorted(x["custom_id"] for x in output + errors) == sorted(f"c{i}" for i in range(10))
    assert batch.request_counts is not None
    assert (batch.request_counts.completed, batch.request_counts.failed) == (5, 5)
    again = run_batch(client, chat_file(2))  # `times` defaults to 1
    assert again.status == "completed"


def test_forced_cancel_matches_metadata(emu: Emulator) -> None:
    rule = {"kind": "batch_outcome", "status": "cancelled", "fraction": 0.5}
    emu.set_faults([{**rule, "metadata": {"job": "^doomed$"}}])
    client = v1_client(emu.url)
    assert run_batch(client, chat_file(4), metadata={"job": "fine"}).status == "completed"
    batch = run_batch(client, chat_file(4), metadata={"job": "doomed"})
    assert batch.status == "cancelled" and batch.cancelling_at is not None
    assert len(read_lines(client, batch.output_file_id)) == 2


def test_http_faults(emu: Emulator) -> None:
    emu.set_faults(
        [
            {"kind": "http", "method": "GET", "path": "/batches$", "status": 429, "times": 1},
            {"kind": "http", "path": "/files$", "status": 502, "times": 1},
            {"kind": "http", "method": "GET", "path": "/files/", "close": True, "times": 1},
        ]
    )
    client = v1_client(emu.url)
    with pytest.raises(openai.RateLimitError) as rate_limited:
        client.batches.list()
    assert rate_limited.value.response.headers["retry-after"] == "1"
    assert list(client.batches.list()) == []  # the rule is used up
    with pytest.raises(openai.InternalServerError) as bad_gateway:
        client.files.list()
    assert bad_gateway.value.response.headers["content-type"] == "text/html"
    assert "502 Bad Gateway" in bad_gateway.value.response.text
    with pytest.raises(openai.APIConnectionError):
        client.files.retrieve("file-" + "0" * 32)


def test_http_fault_is_retried_by_the_sdk(emu: Emulator) -> None:
    emu.set_faults([{"kind": "http", "path": "/batches", "status": 500, "retry_after": 0.01}])
    client = v1_client(emu.url, max_retries=2)
    assert list(client.batches.list()) == []
    assert emu.faults()[0]["remaining"] == 0


def test_commit_then_timeout_creates_the_batch(emu: Emulator) -> None:
    emu.set_faults([{"kind": "commit_then_timeout", "delay": 3}])
    client = v1_client(emu.url)
    file_id = upload(client, chat_file(1))
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.batches.create(
            input_file_id=file_id,
            endpoint="/chat/completions",
            completion_window="24h",
            metadata={"job": "timeout"},
            timeout=0.3,
        )
    assert time.monotonic() - started < 2
    (batch,) = client.batches.list()
    assert batch.metadata == {"job": "timeout"}


def test_token_limit_exceeded(emu: Emulator) -> None:
    emu.set_faults(
        [
            {"kind": "token_limit_exceeded", "stage": "create"},
            {"kind": "token_limit_exceeded", "stage": "validation"},
        ]
    )
    client = v1_client(emu.url)
    file_id = upload(client, chat_file(2))
    with pytest.raises(openai.BadRequestError) as refused:
        client.batches.create(
            input_file_id=file_id, endpoint="/chat/completions", completion_window="24h"
        )
    assert refused.value.code == "token_limit_exceeded"
    batch = run_batch(client, chat_file(2))
    assert batch.status == "failed" and batch.errors is not None
    assert batch.errors.data[0].code == "token_limit_exceeded"
    assert run_batch(client, chat_file(2)).status == "completed"


def test_quirks(emu: Emulator) -> None:
    client = v1_client(emu.url)
    file_id = upload(client, chat_file(1))
    emu.set_faults(
        [
            {"kind": "capitalize_status"},
            {"kind": "iso_timestamps", "objects": ["batch"]},
            {"kind": "null_request_counts", "statuses": ["validating"]},
        ]
    )
    headers = {"api-key": KEY, "Content-Type": "application/json"}
    body = {"input_file_id": file_id, "endpoint": "/chat/completions", "completion_window": "24h"}
    status, _, raw = raw_request(f"{emu.url}/openai/v1/batches", "POST", body, headers)
    batch = orjson.loads(raw)
    assert status == 200 and batch["status"] == "Validating"
    assert batch["request_counts"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", batch["created_at"])
    _, _, raw = raw_request(f"{emu.url}/openai/v1/files/{file_id}", headers=headers)
    file_json = orjson.loads(raw)
    assert file_json["status"] == "Processed" and isinstance(file_json["created_at"], int)
    sdk_view = client.batches.retrieve(batch["id"])  # the SDK does not choke on the quirks
    assert sdk_view.id == batch["id"]


def test_file_status_fault_keeps_an_upload_pending_or_turns_it_to_error(tmp_path):
    timings = Timings(
        file_processing=0.05, validating=0.05, in_progress=0.1, finalizing=0.05, cancelling=0.05
    )
    with Emulator(EmulatorConfig(api_key="k", timings=timings)) as emu:
        client = openai.OpenAI(base_url=f"{emu.url}/openai/v1/", api_key="k")
        emu.set_faults(
            [
                {"kind": "file_status", "status": "error", "filename": "^bad"},
                {"kind": "file_status", "status": "pending", "filename": "^slow"},
            ]
        )
        path = tmp_path / "x.jsonl"
        path.write_text(
            '{"custom_id": "a", "method": "POST", "url": "/chat/completions", '
            '"body": {"model": "m", "messages": [{"role": "user", "content": "x"}]}}\n'
        )
        ids = {}
        for name in ("bad.jsonl", "slow.jsonl", "fine.jsonl"):
            with path.open("rb") as stream:
                ids[name] = client.files.create(file=(name, stream), purpose="batch").id
        time.sleep(0.2)
        statuses = {n: client.files.retrieve(i).status for n, i in ids.items()}
        assert statuses == {
            "bad.jsonl": "error",
            "slow.jsonl": "pending",
            "fine.jsonl": "processed",
        }


# ----- HTTP errors, resets and calls that take effect before their answer is lost ----------


def test_http_error_bodies_look_like_azure(emu: Emulator) -> None:
    rule = {"kind": "http", "method": "GET", "path": "/batches$"}
    emu.set_faults(
        [
            {**rule, "status": 429, "retry_after": 7},
            {**rule, "status": 500},
            {**rule, "status": 502},
            {**rule, "status": 503, "html": False, "retry_after": 3},
        ]
    )
    url, headers = f"{emu.url}/openai/v1/batches", {"api-key": KEY}
    status, head, body = raw_request(url, headers=headers)
    assert (status, head["Retry-After"], orjson.loads(body)["error"]["code"]) == (429, "7", "429")
    status, _, body = raw_request(url, headers=headers)
    assert (status, orjson.loads(body)["error"]["code"]) == (500, "InternalServerError")
    status, head, body = raw_request(url, headers=headers)
    assert (status, head["Content-Type"]) == (502, "text/html") and b"502 Bad Gateway" in body
    status, head, body = raw_request(url, headers=headers)
    assert (status, head["Retry-After"]) == (503, "3")
    assert orjson.loads(body)["error"]["code"] == "ServiceUnavailable"
    assert raw_request(url, headers=headers)[0] == 200  # every rule was used once


def socket_get(url: str, path: str) -> bytes | ConnectionResetError:
    """What a raw connection reads back for one GET: bytes, b"" (closed) or a reset."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: emulator\r\napi-key: {KEY}\r\n\r\n".encode())
        try:
            return sock.recv(65536)
        except ConnectionResetError as exc:
            return exc


def test_reset_aborts_the_connection_where_close_ends_it(emu: Emulator) -> None:
    emu.set_faults(
        [
            {"kind": "http", "path": "/files$", "reset": True},
            {"kind": "http", "path": "/batches$", "close": True},
        ]
    )
    assert isinstance(socket_get(emu.url, "/openai/v1/files"), ConnectionResetError)
    assert socket_get(emu.url, "/openai/v1/batches") == b""
    emu.set_faults([{"kind": "http", "path": "/files$", "reset": True}])
    with pytest.raises(openai.APIConnectionError):
        v1_client(emu.url).files.list()


def test_commit_fault_applies_the_call_then_loses_its_answer(emu: Emulator) -> None:
    client = v1_client(emu.url)
    file_id = upload(client, chat_file(1))
    emu.set_faults(
        [
            {"kind": "http", "method": "POST", "path": "/batches$", "status": 500, "commit": True},
            {"kind": "http", "method": "POST", "path": "/files$", "reset": True, "commit": True},
        ]
    )
    with pytest.raises(openai.InternalServerError):
        client.batches.create(
            input_file_id=file_id,
            endpoint="/chat/completions",
            completion_window="24h",
            metadata={"job": "committed"},
        )
    assert [b["metadata"] for b in emu.batches()] == [{"job": "committed"}]
    with pytest.raises(openai.APIConnectionError):
        client.files.create(file=("lost-answer.jsonl", chat_file(1)), purpose="batch")
    assert "lost-answer.jsonl" in {f["filename"] for f in emu.state()["files"]}
    emu.set_faults([{"kind": "http", "path": "/batches$", "status": 502, "commit": True}])
    with pytest.raises(openai.InternalServerError):  # a call that fails loses its answer too
        client.batches.create(
            input_file_id="file-missing", endpoint="/chat/completions", completion_window="24h"
        )
    assert len(emu.batches()) == 1


def test_commit_then_timeout_on_an_upload_keeps_the_file(emu: Emulator) -> None:
    emu.set_faults([{"kind": "commit_then_timeout", "target": "file", "filename": "^slow-"}])
    client = v1_client(emu.url)
    client.files.create(file=("other.jsonl", chat_file(1)), purpose="batch", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.files.create(file=("slow-1.jsonl", chat_file(1)), purpose="batch", timeout=0.3)
    assert time.monotonic() - started < 2
    assert {f["filename"] for f in emu.state()["files"]} == {"other.jsonl", "slow-1.jsonl"}
    assert emu.faults()[0]["remaining"] == 0


# ----- quota, output files and answers ---------------------------------------------------------


def other_deployment(name: str, custom_id: str = "o") -> bytes:
    return jsonl([chat_line(custom_id, "x", body={"model": name, "messages": []})])


def test_token_limit_scoped_to_one_deployment() -> None:
    with make_emulator(deployments=None) as emu:
        emu.set_faults(
            [
                {"kind": "token_limit_exceeded", "deployment": "busy", "times": None},
                {"kind": "token_limit_exceeded", "stage": "validation", "deployment": "later"},
            ]
        )
        client = v1_client(emu.url)
        file_id = upload(client, other_deployment("busy"))
        for _ in range(2):
            with pytest.raises(openai.BadRequestError) as refused:
                client.batches.create(
                    input_file_id=file_id, endpoint="/chat/completions", completion_window="24h"
                )
            assert refused.value.code == "token_limit_exceeded"
        assert run_batch(client, chat_file(1)).status == "completed"
        later = run_batch(client, other_deployment("later"))
        assert later.status == "failed" and later.errors is not None
        assert later.errors.data[0].code == "token_limit_exceeded"


def test_output_anomaly_repeats_invents_and_loses_lines(emu: Emulator) -> None:
    emu.set_faults([{"kind": "output_anomaly", "duplicate": 1, "unknown": 1, "lost": 2}])
    client = v1_client(emu.url)
    batch = run_batch(client, chat_file(6))
    ids = [line["custom_id"] for line in read_lines(client, batch.output_file_id)]
    known = [i for i in ids if not i.startswith("stranger-")]
    assert len(ids) == 6 and len(known) == 5  # 6 - 2 lost + 1 repeat + 1 stranger
    assert len(set(known)) == 4  # one answer twice, two answers in neither file
    assert read_lines(client, batch.error_file_id) == []


@pytest.mark.parametrize(
    "shape", ["choices_not_objects", "response_string", "body_list", "not_json"]
)
def test_odd_shapes_in_output_lines(emu: Emulator, shape: str) -> None:
    emu.set_faults([{"kind": "odd_shape", "shape": shape, "custom_id": "^c1$"}])
    client = v1_client(emu.url)
    batch = run_batch(client, chat_file(3))
    raw = client.files.content(batch.output_file_id).content.splitlines()
    if shape == "not_json":
        broken = [line for line in raw if not _parses(line)]
        assert len(broken) == 1 and b'"c1"' in broken[0]
        return
    lines = {line["custom_id"]: line for line in map(orjson.loads, raw)}
    assert lines["c0"]["response"]["body"]["choices"][0]["message"]["content"]
    odd = lines["c1"]["response"]
    if shape == "response_string":
        assert isinstance(odd, str) and json.loads(odd)["status_code"] == 200
    elif shape == "body_list":
        assert isinstance(odd["body"], list) and odd["body"][0]["object"] == "chat.completion"
    else:
        assert all(isinstance(choice, str) for choice in odd["body"]["choices"])


def _parses(line: bytes) -> bool:
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return True


def test_truncated_answers_stop_for_length(emu: Emulator) -> None:
    emu.set_faults([{"kind": "truncated_answer", "custom_id": "^s1$|^r$"}])
    client = v1_client(emu.url)
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "year": {"type": "integer"}},
        "required": ["city", "year"],
        "additionalProperties": False,
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "place", "schema": schema}}
    body = {"model": DEPLOYMENT, "messages": [], "response_format": response_format}
    batch = run_batch(client, jsonl([chat_line(f"s{i}", "", body=body) for i in range(2)]))
    choices = {
        line["custom_id"]: line["response"]["body"]["choices"][0]
        for line in read_lines(client, batch.output_file_id)
    }
    assert choices["s0"]["finish_reason"] == "stop"
    assert set(json.loads(choices["s0"]["message"]["content"])) == {"city", "year"}
    assert choices["s1"]["finish_reason"] == "length"
    with pytest.raises(json.JSONDecodeError):
        json.loads(choices["s1"]["message"]["content"])
    line = {"custom_id": "r", "method": "POST", "url": "/v1/responses"}
    line["body"] = {"model": DEPLOYMENT, "input": "x"}
    responses = run_batch(client, jsonl([line]), endpoint="/v1/responses")
    (answer,) = read_lines(client, responses.output_file_id)
    assert answer["response"]["body"]["status"] == "incomplete"
    assert answer["response"]["body"]["incomplete_details"] == {"reason": "max_output_tokens"}


# ----- configuration faults --------------------------------------------------------------------

MISCONFIGURED = {
    "wrong_key": (401, openai.AuthenticationError, "401"),
    "missing_permission": (403, openai.PermissionDeniedError, "PermissionDenied"),
    "wrong_endpoint": (404, openai.NotFoundError, "404"),
}


@pytest.mark.parametrize("problem", sorted(MISCONFIGURED))
def test_misconfiguration_answers_every_call_until_cleared(emu: Emulator, problem: str) -> None:
    status, error, code = MISCONFIGURED[problem]
    client = dated_client(emu.url)
    emu.set_faults([{"kind": "misconfigured", "problem": problem}])
    calls = (
        client.files.list,
        client.batches.list,
        lambda: client.files.create(file=("a.jsonl", chat_file(1)), purpose="batch"),
        lambda: client.batches.retrieve("batch_unknown"),
    )
    for call in calls * 2:
        with pytest.raises(error) as refused:
            call()
        assert (refused.value.status_code, refused.value.code) == (status, code)
    assert emu.state()["files"] == []  # nothing got through; the in-process view still works
    emu.clear_faults()
    assert list(client.batches.list()) == []


def test_missing_permission_can_answer_401_as_some_regions_do(emu: Emulator) -> None:
    emu.set_faults([{"kind": "misconfigured", "problem": "missing_permission", "status": 401}])
    with pytest.raises(openai.AuthenticationError) as refused:
        v1_client(emu.url).batches.list()
    assert refused.value.code == "PermissionDenied"
    assert "does not have access" in refused.value.message


# ----- probability, seeds and scope ------------------------------------------------------------


def outcomes(list_seed: int, probability: float = 0.5, calls: int = 40, **rule: Any) -> list[int]:
    """The statuses of `calls` list calls under a 503 rule with that chance and seed."""
    with make_emulator() as emu:
        base = {"kind": "http", "path": "/batches$", "status": 503, "html": False, "times": None}
        emu.set_faults([{**base, "probability": probability, **rule}], seed=list_seed)
        url = f"{emu.url}/openai/v1/batches"
        return [raw_request(url, headers={"api-key": KEY})[0] for _ in range(calls)]


def test_probability_draws_repeat_with_the_same_seed() -> None:
    first = outcomes(7)
    assert set(first) == {200, 503}
    assert outcomes(7) == first
    assert outcomes(8) != first
    assert set(outcomes(7, probability=0.0, calls=10)) == {200}
    # A rule's own seed wins over the list's, so adding rules does not reshuffle it.
    assert outcomes(1, seed="mine") == outcomes(2, seed="mine")


def test_times_counts_only_applied_faults() -> None:
    with make_emulator() as emu:
        emu.set_faults(
            [{"kind": "http", "path": "/batches$", "status": 500, "times": 3, "probability": 0.5}]
        )
        url = f"{emu.url}/openai/v1/batches"
        statuses = [raw_request(url, headers={"api-key": KEY})[0] for _ in range(40)]
    assert statuses.count(500) == 3


def test_scoped_rules_leave_other_work_alone() -> None:
    with make_emulator(deployments=None) as emu:
        client = v1_client(emu.url)
        emu.set_faults(
            [
                {"kind": "line_failure", "status_code": 429, "deployment": "other-batch"},
                {
                    "kind": "http",
                    "path": "/files/",
                    "status": 500,
                    "filename": "^mine-",
                    "times": None,
                },
            ]
        )
        mine = client.files.create(file=("mine-1.jsonl", chat_file(2)), purpose="batch")
        theirs = client.files.create(file=("theirs-1.jsonl", chat_file(1)), purpose="batch")
        with pytest.raises(openai.InternalServerError):
            client.files.retrieve(mine.id)
        assert client.files.retrieve(theirs.id).filename == "theirs-1.jsonl"
        assert len(client.files.list().data) == 2  # a list call is about nothing in particular
        failed = run_batch(client, other_deployment("other-batch"))
        assert failed.request_counts is not None and failed.request_counts.failed == 1
        fine = run_batch(client, chat_file(2))
        assert fine.request_counts is not None and fine.request_counts.completed == 2
        time.sleep(0.05)  # mine-1.jsonl is processed by now; retrieving it would fail
        batch = client.batches.create(
            input_file_id=mine.id, endpoint="/chat/completions", completion_window="24h"
        )
        done = wait_final(client, batch.id)
        with pytest.raises(openai.InternalServerError):  # its output is about mine-1.jsonl
            client.files.content(done.output_file_id)


BAD_RULES = [
    {"kind": "http", "status": 500, "stauts": 1},  # a misspelt field
    {"kind": "http"},
    {"kind": "http", "status": 500, "close": True},
    {"kind": "http", "status": 500, "probability": 2},
    {"kind": "misconfigured", "problem": "wrong_key", "status": 403},
    {"kind": "misconfigured", "problem": "missing_permission", "status": 500},
    {"kind": "odd_shape"},
    {"kind": "output_anomaly", "lost": -1},
    {"kind": "line_failure", "times": True},
    {"kind": "line_failure", "filename": "("},
]


@pytest.mark.parametrize("bad", BAD_RULES, ids=[str(i) for i in range(len(BAD_RULES))])
def test_bad_rules_are_refused_and_the_old_ones_kept(emu: Emulator, bad: dict) -> None:
    emu.set_faults([{"kind": "http", "status": 500}])
    with pytest.raises(RuleError):
        emu.set_faults([{"kind": "capitalize_status"}, bad])
    assert [rule["kind"] for rule in emu.faults()] == ["http"]
