"""The host delivering real events through the runtime, against Azurite: base64 queue bodies,
maxDequeueCount tries then the poison queue, one blob event per blob version, settings and
connections checked before delivery, the timer's past-due flag and HTTP routing."""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest
from azure.storage.queue import QueueClient

from devtools.host import BindingError, FunctionHost
from devtools.host.http import serve
from shared.deps import default_deps
from tests.conftest import ROOT


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def poisoned(azurite, queue_name: str) -> list[str]:
    poison = QueueClient.from_connection_string(azurite.connection_string, f"{queue_name}-poison")
    return [m.content for m in poison.peek_messages(max_messages=32)]


def tries(caplog, message_id: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if f"queue message {message_id} failed" in r.getMessage()
    ]


def test_a_base64_message_is_decoded_before_the_function_reads_it(app_env, host, caplog):
    app_env()
    queue = host.queue()
    queue.send_message(encoded(json.dumps({"job_id": "no-such-job"})))
    with caplog.at_level(logging.INFO):
        assert host.drain_queue() == 1
    assert "job no-such-job: nothing to complete (no job)" in caplog.text
    assert queue.peek_messages() == []


def test_a_failing_message_is_tried_five_times_then_poisoned(app_env, azurite, caplog):
    env = app_env()
    # No wait between tries (host.json's visibilityTimeout would be 30 s): one drain does all.
    host = FunctionHost(ROOT, azurite.connection_string, visibility_timeout=1, retry_delay=0)
    sent = host.queue().send_message(encoded("not json"))
    with caplog.at_level(logging.INFO):
        assert host.drain_queue() == 0
    assert [t.split("(try ")[1] for t in tries(caplog, sent.id)] == ["1)", "2)", "3)", "4)", "5)"]
    assert poisoned(azurite, env["BATCH_COMPLETION_QUEUE"]) == [encoded("not json")]
    assert host.queue().peek_messages() == []


def test_a_message_that_is_not_base64_is_poisoned_at_once(app_env, azurite, host, caplog):
    env = app_env()
    sent = host.queue().send_message('{"job_id": "plain-json"}')
    with caplog.at_level(logging.INFO):
        assert host.drain_queue() == 0
    assert tries(caplog, sent.id) == []  # never given to the function
    assert "is not valid base64" in caplog.text
    assert poisoned(azurite, env["BATCH_COMPLETION_QUEUE"]) == ['{"job_id": "plain-json"}']


def test_one_blob_event_per_blob_version(app_env, host):
    app_env()
    deps = default_deps()
    events: list[str] = []
    host.on_event = events.append
    inputs = host.blobs.get_container_client(deps.settings.input_container)
    inputs.upload_blob("_a.json", b"{}")  # `_` names are settings, not inputs: quick to handle
    assert host.deliver_new_blobs() == 1
    assert host.deliver_new_blobs() == 0  # the same version is not announced twice
    inputs.upload_blob("_a.json", b'{"v": 2}', overwrite=True)
    inputs.upload_blob("_b.json", b"{}")
    assert host.deliver_new_blobs() == 2
    assert events == ["delivered blob _a.json", "delivered blob _a.json", "delivered blob _b.json"]


def test_a_missing_connection_setting_stops_delivery(app_env, host, monkeypatch):
    app_env()
    monkeypatch.delenv("AzureWebJobsStorage")
    with pytest.raises(BindingError, match="'AzureWebJobsStorage' does not exist"):
        host.deliver_blob("x.jsonl")
    with pytest.raises(BindingError, match="'AzureWebJobsStorage' does not exist"):
        host.drain_queue()
    problems = host.check()
    assert any(p.startswith("The 'submit_prompt_file' function is in error") for p in problems)
    assert any(p.startswith("The 'complete_batch' function is in error") for p in problems)


def test_binding_settings_and_the_schedule_are_checked(app_env, host, monkeypatch):
    app_env(POLL_SCHEDULE="*/10 * * * * *")
    assert host.check() == []
    assert host.schedule() == "*/10 * * * * *"
    monkeypatch.setenv("POLL_SCHEDULE", "*/5 * * *")  # four fields: neither form Azure reads
    [problem] = host.check()
    assert "The 'poll_batches' function is in error" in problem and "six fields" in problem
    monkeypatch.delenv("POLL_SCHEDULE")
    monkeypatch.delenv("BATCH_INPUT_CONTAINER")
    assert [p.split(": ", 1)[1] for p in host.check()] == [
        "'%BATCH_INPUT_CONTAINER%' does not resolve to a value: set the app setting "
        "BATCH_INPUT_CONTAINER (environment or local.settings.json Values; in Azure, an app "
        "setting)",
        "'%POLL_SCHEDULE%' does not resolve to a value: set the app setting POLL_SCHEDULE "
        "(environment or local.settings.json Values; in Azure, an app setting)",
    ]


def test_the_timer_past_due_flag_reaches_the_function(app_env, host, caplog):
    app_env(POLL_SCHEDULE="0 0 * * * *")
    with caplog.at_level(logging.INFO):
        host.fire_timer()
        assert "past due" not in caplog.text
        host.fire_timer(past_due=True)
    assert "poll tick is past due; running now" in caplog.text


def test_missed_ticks_give_one_catch_up_run_marked_past_due(app_env, host, caplog):
    app_env(POLL_SCHEDULE="0 * * * * *")
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    with caplog.at_level(logging.INFO):
        following = host._tick_if_due(long_ago)
    assert caplog.text.count("poll tick is past due") == 1
    assert following > datetime.now(UTC) and following.second == 0


def get(url: str, method: str = "GET") -> tuple[int, object]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method)) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_http_functions_are_routed_by_prefix_template_and_method(app_env, host):
    app_env()
    server = serve(host, port=0)
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        empty = {"jobs": [], "next": None}
        assert get(f"{base}/api/jobs") == (200, empty)
        assert get(f"{base}/API/Jobs?status=open") == (200, empty)
        assert get(f"{base}/api/jobs/nope") == (404, {"error": "no such job"})  # the function
        assert get(f"{base}/api/jobs/nope/cancel", "POST") == (404, {"error": "no such job"})
        no_route = {"error": "no function matches this method and route"}
        assert get(f"{base}/jobs") == (404, no_route)  # no api/ prefix
        assert get(f"{base}/api/jobs", "POST") == (404, no_route)
        assert get(f"{base}/api/jobs/nope/cancel") == (404, no_route)  # GET on a POST route
    finally:
        server.shutdown()
