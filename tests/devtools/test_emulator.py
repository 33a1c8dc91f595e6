"""Tests for the Azure OpenAI batch emulator, driven through the real openai SDK."""

from __future__ import annotations

import io
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import openai
import orjson
import pytest

from devtools.emulator import Emulator, Timings
from devtools.emulator.multipart import parse_multipart
from devtools.emulator.schema_fake import fake_value
from tests.devtools.kit import (
    ADMIN,
    DEPLOYMENT,
    KEY,
    TERMINAL,
    admin,
    answer_of,
    chat_file,
    chat_line,
    dated_client,
    jsonl,
    make_emulator,
    poll,
    raw_request,
    read_lines,
    run_batch,
    upload,
    v1_client,
    wait_final,
)

PERSON_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 3, "maxLength": 40},
        "age": {"type": "integer", "minimum": 18, "maximum": 99},
        "score": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "active": {"type": "boolean"},
        "role": {"type": "string", "enum": ["admin", "user", "guest"]},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
        "address": {"$ref": "#/$defs/address"},
        "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["name", "age", "score", "active", "role", "tags", "address", "nickname"],
    "additionalProperties": False,
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
            "required": ["city", "zip"],
            "additionalProperties": False,
        }
    },
}


# ----- a tiny JSON Schema checker for the structured-output tests ---------------------------

TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = root
        for key in schema["$ref"][2:].split("/"):
            target = target[key]
        schema = target
    return schema


def conforms(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    schema = resolve(schema, root)
    if "enum" in schema:
        return value in schema["enum"]
    if "anyOf" in schema:
        return any(conforms(value, option, root) for option in schema["anyOf"])
    kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    if not any(TYPES[kind](value) for kind in kinds):
        return False
    return (
        _object_ok(value, schema, root)
        and _array_ok(value, schema, root)
        and _scalar_ok(value, schema)
    )


def _object_ok(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    if not isinstance(value, dict):
        return True
    properties = schema.get("properties", {})
    if not set(schema.get("required", [])) <= set(value):
        return False
    if schema.get("additionalProperties") is False and not set(value) <= set(properties):
        return False
    return all(conforms(value[name], properties[name], root) for name in value)


def _array_ok(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    if not isinstance(value, list):
        return True
    if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", 10**9):
        return False
    return all(conforms(item, schema.get("items", {"type": "string"}), root) for item in value)


def _scalar_ok(value: Any, schema: dict[str, Any]) -> bool:
    if isinstance(value, str):
        return schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", 10**9)
    if isinstance(value, int | float) and not isinstance(value, bool):
        low_ok = value >= schema.get("minimum", -(10**18)) and value > schema.get(
            "exclusiveMinimum", -(10**18)
        )
        high_ok = value <= schema.get("maximum", 10**18) and value < schema.get(
            "exclusiveMaximum", 10**18
        )
        return low_ok and high_ok
    return True


# ----- the happy path, in every API style ----------------------------------------------------


def test_batch_lifecycle_and_output(client: openai.OpenAI, emu: Emulator) -> None:
    data = chat_file(20)
    batch = run_batch(client, data, metadata={"job": "lifecycle"})
    assert batch.status == "completed"
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed) == (20, 20)
    assert batch.in_progress_at and batch.finalizing_at and batch.completed_at
    assert batch.expires_at == batch.created_at + 24 * 3600
    assert batch.metadata == {"job": "lifecycle"}
    lines = read_lines(client, batch.output_file_id)
    custom_ids = [line["custom_id"] for line in lines]
    expected = [f"c{i}" for i in range(20)]
    assert sorted(custom_ids) == sorted(expected)
    assert custom_ids != expected, "output lines must be shuffled"
    for line in lines:
        assert line["id"].startswith("batch_req_") and line["error"] is None
        assert line["response"]["status_code"] == 200
        body = line["response"]["body"]
        assert body["object"] == "chat.completion"
        assert body["model"] == "gpt-4o-mini-2024-07-18"  # the served model, not the deployment
        assert body["choices"][0]["finish_reason"] == "stop"
        assert body["usage"]["total_tokens"] == (
            body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
        )
    assert client.files.content(batch.error_file_id).content == b""
    output = client.files.retrieve(batch.output_file_id)
    assert output.purpose == "batch_output" and output.status == "processed"


def test_batch_status_progresses_through_phases(emu: Emulator) -> None:
    client = v1_client(emu.url)
    file_id = upload(client, chat_file(3))
    batch = client.batches.create(
        input_file_id=file_id, endpoint="/chat/completions", completion_window="24h"
    )
    assert batch.status == "validating"
    assert batch.id.startswith("batch_") and batch.output_file_id is None
    assert batch.in_progress_at is None and batch.errors is None
    seen = [batch.status]
    while seen[-1] not in TERMINAL:
        time.sleep(0.005)
        status = client.batches.retrieve(batch.id).status
        if status != seen[-1]:
            seen.append(status)
    assert seen[0] == "validating" and seen[-1] == "completed"
    assert set(seen) <= {"validating", "in_progress", "finalizing", "completed"}


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lifecycle_follows_the_clock() -> None:
    clock = ManualClock()
    timings = Timings(file_processing=1, validating=2, in_progress=10, finalizing=1)
    wall = 1_700_000_000.0
    config = {"clock": clock, "wall_clock": lambda: wall, "timings": timings}
    with make_emulator(**config) as emulator:
        client = v1_client(emulator.url)
        created = client.files.create(file=("in.jsonl", chat_file(10)), purpose="batch")
        assert created.status == "pending" and created.created_at == 1_700_000_000
        clock.now += 1
        assert client.files.retrieve(created.id).status == "processed"
        batch = client.batches.create(
            input_file_id=created.id, endpoint="/chat/completions", completion_window="24h"
        )
        start = batch.created_at

        def check(advance: float, status: str, completed: int) -> Any:
            clock.now += advance
            seen = client.batches.retrieve(batch.id)
            assert seen.request_counts is not None
            counts = (seen.request_counts.completed, seen.request_counts.total)
            assert (seen.status, counts) == (status, (completed, 10))
            return seen

        assert batch.status == "validating" and batch.request_counts is not None
        assert batch.request_counts.total == 0
        assert check(2, "in_progress", 0).in_progress_at == start + 2
        check(5, "in_progress", 5)
        assert check(5, "finalizing", 10).finalizing_at == start + 12
        done = check(1, "completed", 10)
    assert done.completed_at == start + 13 and done.output_file_id is not None


def test_file_object_shape(emu: Emulator) -> None:
    client = dated_client(emu.url)
    created = client.files.create(file=("in.jsonl", chat_file(1)), purpose="batch")
    assert re.fullmatch(r"file-[0-9a-f]{32}", created.id)
    assert created.status == "pending" and created.status_details is None
    assert (created.purpose, created.filename, created.bytes) == (
        "batch",
        "in.jsonl",
        len(chat_file(1)),
    )
    assert created.expires_at is None
    expiring = client.files.create(
        file=("in.jsonl", chat_file(1)),
        purpose="batch",
        extra_body={"expires_after": {"anchor": "created_at", "seconds": 1209600}},
    )
    assert expiring.expires_at == expiring.created_at + 1209600


def test_answers_are_deterministic(emu: Emulator) -> None:
    client = v1_client(emu.url)
    data = jsonl([chat_line("a", "same question"), chat_line("b", "another question")])
    first = {
        x["custom_id"]: answer_of(x)
        for x in read_lines(client, run_batch(client, data).output_file_id)
    }
    second = {
        x["custom_id"]: answer_of(x)
        for x in read_lines(client, run_batch(client, data).output_file_id)
    }
    assert first == second
    assert first["a"] != first["b"]


def test_responses_endpoint(emu: Emulator) -> None:
    client = v1_client(emu.url)
    lines = [
        {
            "custom_id": f"r{i}",
            "method": "POST",
            "url": "/v1/responses",
            "body": {"model": DEPLOYMENT, "input": f"question {i}"},
        }
        for i in range(3)
    ]
    batch = run_batch(client, jsonl(lines), endpoint="/v1/responses")
    assert batch.status == "completed"
    for line in read_lines(client, batch.output_file_id):
        body = line["response"]["body"]
        assert body["object"] == "response" and body["status"] == "completed"
        assert body["output"][0]["type"] == "message"
        assert body["output"][0]["content"][0]["type"] == "output_text"
        usage = body["usage"]
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_v1_chat_endpoint_matches_chat_lines(emu: Emulator) -> None:
    client = v1_client(emu.url)
    batch = run_batch(client, chat_file(2), endpoint="/v1/chat/completions")
    assert batch.status == "completed"


# ----- structured outputs --------------------------------------------------------------------


def test_structured_output_chat_conforms(emu: Emulator) -> None:
    client = v1_client(emu.url)
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "person", "strict": True, "schema": PERSON_SCHEMA},
    }
    lines = [
        chat_line(f"s{i}", f"person {i}", body={
            "model": DEPLOYMENT,
            "messages": [{"role": "user", "content": f"person {i}"}],
            "response_format": response_format,
        })
        for i in range(5)
    ]  # fmt: skip
    batch = run_batch(client, jsonl(lines))
    for line in read_lines(client, batch.output_file_id):
        value = json.loads(answer_of(line))
        assert conforms(value, PERSON_SCHEMA, PERSON_SCHEMA), value


def test_structured_output_responses_and_json_object(emu: Emulator) -> None:
    client = v1_client(emu.url)
    text = {"format": {"type": "json_schema", "name": "person", "schema": PERSON_SCHEMA}}
    line = {
        "custom_id": "r",
        "method": "POST",
        "url": "/v1/responses",
        "body": {"model": DEPLOYMENT, "input": "who?", "text": text},
    }
    batch = run_batch(client, jsonl([line]), endpoint="/v1/responses")
    (result,) = read_lines(client, batch.output_file_id)
    assert conforms(json.loads(answer_of(result)), PERSON_SCHEMA, PERSON_SCHEMA)
    body = {"model": DEPLOYMENT, "messages": [], "response_format": {"type": "json_object"}}
    batch = run_batch(client, jsonl([chat_line("j", "", body=body)]))
    (result,) = read_lines(client, batch.output_file_id)
    assert isinstance(json.loads(answer_of(result)), dict)


def test_fake_value_handles_schema_features() -> None:
    schema = {
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "kind": {"const": "fixed"},
            "items": {"type": "array", "items": {"$ref": "#/definitions/item"}, "minItems": 3},
            "maybe": {"type": ["null", "integer"], "minimum": 5, "maximum": 5},
        },
        "definitions": {"item": {"type": "object", "properties": {"n": {"type": "number"}}}},
    }
    value = fake_value(schema, "seed")
    assert value == fake_value(schema, "seed")
    assert value["kind"] == "fixed" and value["maybe"] == 5 and len(value["items"]) == 3
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:00:00Z", value["when"])


def test_max_tokens_truncates_with_length_finish(emu: Emulator) -> None:
    client = v1_client(emu.url)
    body = {"model": DEPLOYMENT, "messages": [{"role": "user", "content": "x"}], "max_tokens": 2}
    batch = run_batch(client, jsonl([chat_line("t", "", body=body)]))
    (line,) = read_lines(client, batch.output_file_id)
    choice = line["response"]["body"]["choices"][0]
    assert choice["finish_reason"] == "length" and len(choice["message"]["content"]) == 8


# ----- validation failures ------------------------------------------------------------------

VALID = orjson.dumps(chat_line("ok", "fine"))
VALIDATION_CASES: dict[str, tuple[bytes, str, int | None]] = {
    "empty": (b"", "empty_file", None),
    "bad json": (VALID + b"\n{not json\n", "invalid_json_line", 2),
    "blank line": (VALID + b"\n\n" + VALID + b"\n", "invalid_json_line", 2),
    "duplicate": (jsonl([chat_line("d", "1"), chat_line("d", "2")]), "duplicate_custom_id", 2),
    "model mismatch": (
        jsonl([chat_line("a", "1"), chat_line("b", "2", body={"model": "other", "messages": []})]),
        "model_mismatch",
        2,
    ),
    "url differs": (
        jsonl([chat_line("a", "1"), chat_line("b", "2", url="/v1/responses")]),
        "url_mismatch",
        2,
    ),
    "unknown deployment": (
        jsonl([chat_line("a", "1", body={"model": "nope", "messages": []})]),
        "model_not_found",
        1,
    ),
    "too many": (chat_file(6), "too_many_tasks", None),
    "bom": (b"\xef\xbb\xbf" + chat_file(2), "model_not_found", 1),
    "missing body": (
        orjson.dumps({"custom_id": "x", "method": "POST", "url": "/chat/completions"}),
        "invalid_request",
        1,
    ),
    "get method": (jsonl([chat_line("a", "1", method="GET")]), "invalid_request", 1),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(VALIDATION_CASES))
def test_validation_errors(case: str) -> None:
    data, code, line = VALIDATION_CASES[case]
    with make_emulator(max_requests_per_file=5) as emulator:
        client = v1_client(emulator.url)
        batch = run_batch(client, data)
    assert batch.status == "failed"
    assert batch.failed_at is not None and batch.in_progress_at is None
    assert batch.output_file_id is None and batch.error_file_id is None
    assert batch.errors is not None and batch.errors.object == "list"
    first = batch.errors.data[0]
    assert (first.code, first.line) == (code, line)
    assert first.message


def test_url_must_match_batch_endpoint(emu: Emulator) -> None:
    client = v1_client(emu.url)
    batch = run_batch(client, chat_file(2), endpoint="/v1/responses")
    assert batch.status == "failed"
    assert batch.errors is not None
    assert {e.code for e in batch.errors.data} == {"url_mismatch"}


# ----- request errors -----------------------------------------------------------------------


def test_create_batch_rejections(emu: Emulator) -> None:
    client = v1_client(emu.url)
    file_id = upload(client, chat_file(1))

    def create(**overrides: Any) -> None:
        params = {"input_file_id": file_id, "endpoint": "/chat/completions"}
        params["completion_window"] = "24h"
        params.update(overrides)
        client.batches.create(**params)

    with pytest.raises(openai.BadRequestError):
        create(completion_window="48h")
    with pytest.raises(openai.BadRequestError):
        create(endpoint="/v1/embeddings")
    with pytest.raises(openai.NotFoundError):
        create(input_file_id="file-" + "0" * 32)
    with pytest.raises(openai.BadRequestError):
        create(metadata={f"k{i}": "v" for i in range(17)})
    with pytest.raises(openai.BadRequestError):
        create(output_expires_after={"anchor": "created_at", "seconds": 60})
    create(output_expires_after={"anchor": "created_at", "seconds": 1209600})


def test_pending_file_cannot_start_a_batch() -> None:
    with make_emulator(timings=Timings(file_processing=60)) as emulator:
        client = v1_client(emulator.url)
        created = client.files.create(file=("in.jsonl", chat_file(1)), purpose="batch")
        with pytest.raises(openai.BadRequestError, match="processed"):
            client.batches.create(
                input_file_id=created.id, endpoint="/chat/completions", completion_window="24h"
            )


def test_file_upload_rejections() -> None:
    with make_emulator(max_file_bytes=1000, max_files_without_expiry=2) as emulator:
        client = dated_client(emulator.url)

        def create(data: bytes = b"{}\n", name: str = "in.jsonl", **kwargs: Any) -> Any:
            kwargs.setdefault("purpose", "batch")
            return client.files.create(file=(name, data), **kwargs)

        with pytest.raises(openai.BadRequestError):
            create(purpose="fine-tune")
        with pytest.raises(openai.BadRequestError):
            create(name="in.csv")
        with pytest.raises(openai.BadRequestError, match="too large"):
            create(b"x" * 1001)
        with pytest.raises(openai.BadRequestError):
            create(extra_body={"expires_after": {"anchor": "created_at", "seconds": 100}})
        create()
        create()
        with pytest.raises(openai.BadRequestError, match="limit is 2"):
            create()
        expiring = {"expires_after": {"anchor": "created_at", "seconds": 2592000}}
        assert create(extra_body=expiring).expires_at is not None


def test_large_upload_round_trips(emu: Emulator) -> None:
    client = v1_client(emu.url)
    data = chat_file(20_000)  # about 3 MB
    file_id = client.files.create(file=("big.jsonl", io.BytesIO(data)), purpose="batch").id
    assert client.files.content(file_id).content == data


def test_multipart_parser_keeps_boundary_like_content() -> None:
    content = b"--not-the-boundary\r\n\r\nstill content\r\n"
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n--XyZ--\r\n"
    )
    parts = parse_multipart(body, "multipart/form-data; boundary=XyZ")
    assert [(p.name, p.filename) for p in parts] == [("purpose", None), ("file", "a.jsonl")]
    assert parts[1].content == content


# ----- cancel, list, delete -----------------------------------------------------------------


def test_cancel_keeps_partial_results() -> None:
    slow = Timings(file_processing=0.01, validating=0.01, in_progress=2.0, cancelling=0.05)
    with make_emulator(timings=slow) as emulator:
        client = v1_client(emulator.url)
        file_id = upload(client, chat_file(40))
        batch = client.batches.create(
            input_file_id=file_id, endpoint="/chat/completions", completion_window="24h"
        )

        def some_done(b: Any) -> bool:
            return b.request_counts is not None and b.request_counts.completed >= 3

        poll(lambda: client.batches.retrieve(batch.id), some_done)
        cancelling = client.batches.cancel(batch.id)
        assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
        final = wait_final(client, batch.id)
        assert final.status == "cancelled" and final.cancelled_at is not None
        assert final.request_counts is not None
        done = final.request_counts.completed
        assert 3 <= done < 40 and final.request_counts.total == 40
        assert len(read_lines(client, final.output_file_id)) == done
        assert client.files.content(final.error_file_id).content == b""
        with pytest.raises(openai.ConflictError):
            client.batches.cancel(batch.id)


def test_list_batches_and_files(emu: Emulator) -> None:
    client = v1_client(emu.url)
    file_id = upload(client, chat_file(1))
    ids = [
        client.batches.create(
            input_file_id=file_id, endpoint="/chat/completions", completion_window="24h"
        ).id
        for _ in range(3)
    ]
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == ids[::-1][:2] and page.has_more
    assert [b.id for b in client.batches.list(limit=2)] == ids[::-1]  # auto-pagination
    assert [f.id for f in client.files.list(purpose="batch")] == [file_id]
    outputs = list(client.files.list(purpose="batch_output"))
    assert {f.purpose for f in outputs} <= {"batch_output"}


def test_delete_and_unknown_ids(emu: Emulator) -> None:
    client = dated_client(emu.url)
    file_id = upload(client, chat_file(1))
    deleted = client.files.delete(file_id)
    assert (deleted.id, deleted.deleted) == (file_id, True)
    assert emu.state()["files"] == []
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(file_id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(file_id)
    with pytest.raises(openai.NotFoundError):
        client.batches.retrieve("batch_00000000-0000-0000-0000-000000000000")


def test_state_snapshot_lists_outputs(emu: Emulator) -> None:
    client = v1_client(emu.url)
    batch = run_batch(client, chat_file(2), metadata={"job": "state"})
    state = emu.state()
    assert {f["purpose"] for f in state["files"]} == {"batch", "batch_output"}
    (summary,) = state["batches"]
    assert summary["id"] == batch.id and summary["status"] == "completed"
    assert summary["output_file_id"] == batch.output_file_id
    emu.reset()
    assert emu.state() == {"files": [], "deleted_files": [], "batches": [], "faults": []}


# ----- auth and routing ---------------------------------------------------------------------


def test_routing_errors(emu: Emulator) -> None:
    headers = {"api-key": KEY}
    for path in ("/openai/files", "/openai/batches?api-version=2023-05-15", "/openai/v1/nope"):
        status, _, body = raw_request(emu.url + path, headers=headers)
        assert status == 404, path
        assert orjson.loads(body) == {"error": {"code": "404", "message": "Resource not found"}}
    assert raw_request(f"{emu.url}/openai/files?api-version=2024-10-21", headers=headers)[0] == 200


# ----- upstream mode ------------------------------------------------------------------------


class StubHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = body["messages"][0]["content"]
        if "fail" in text:
            status, reply = 500, {"error": {"code": "upstream_broke", "message": "no"}}
        else:
            status = 200
            reply = {
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "stub:" + text}}
                ],
            }
        payload = orjson.dumps(reply)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def test_upstream_answers_lines() -> None:
    stub = ThreadingHTTPServer(("127.0.0.1", 0), StubHandler)
    threading.Thread(target=stub.serve_forever, args=(0.05,), daemon=True).start()
    try:
        upstream = f"http://127.0.0.1:{stub.server_address[1]}/v1"
        with make_emulator(upstream=upstream) as emulator:
            client = v1_client(emulator.url)
            data = jsonl([chat_line("a", "hello"), chat_line("b", "please fail")])
            batch = run_batch(client, data)
            (ok,) = read_lines(client, batch.output_file_id)
            (bad,) = read_lines(client, batch.error_file_id)
    finally:
        stub.shutdown()
        stub.server_close()
    assert answer_of(ok) == "stub:hello"
    assert bad["custom_id"] == "b" and bad["response"]["status_code"] == 500
    assert bad["response"]["body"]["error"]["code"] == "upstream_broke"


# ----- added latency ------------------------------------------------------------------------


def test_latency_delays_api_calls_but_not_admin_endpoints() -> None:
    # A second of latency, so that a busy machine's own delays cannot pass for it.
    with make_emulator(latency=1.0) as emulator:
        client = v1_client(emulator.url)
        started = time.monotonic()
        client.batches.list()
        api_seconds = time.monotonic() - started
        started = time.monotonic()
        admin(f"{emulator.url}/_emulator/state")
        admin_seconds = time.monotonic() - started
    assert api_seconds >= 1.0
    assert admin_seconds < 0.8


def test_latency_overlaps_across_concurrent_calls() -> None:
    with make_emulator(latency=0.2) as emulator:
        client = v1_client(emulator.url)
        threads = [threading.Thread(target=client.batches.list) for _ in range(8)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 1.0  # eight calls in parallel, not 1.6 s one after another


def test_many_clients_connecting_at_once_are_all_served() -> None:
    # A poll tick opens connections from many threads at once; a small listen backlog made
    # some of them fail with "connection reset by peer".
    with make_emulator() as emulator:
        start = threading.Barrier(64)
        statuses: list[int] = []

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def call() -> None:
            start.wait()
            # Shorter than the 1 s a refused connection waits before its SYN is sent again.
            request = urllib.request.Request(
                f"{emulator.url}/_emulator/state", headers={"Authorization": f"Bearer {ADMIN}"}
            )
            with opener.open(request, timeout=0.9) as response:
                statuses.append(response.status)

        threads = [threading.Thread(target=call) for _ in range(64)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [200] * 64
