"""The data the host sends, decoded by the Python runtime's own converters into the objects
the functions receive (and an HTTP response encoded by the runtime, read back by the host)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob
import pytest
from azure_functions_runtime.bindings.meta import from_incoming_proto, to_outgoing_proto

from devtools.host import RuntimeWorker, payloads, protocol
from tests.conftest import ROOT

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture(scope="module", autouse=True)
def runtime() -> RuntimeWorker:
    """Worker init loads the runtime's binding registries (done once per process)."""
    return RuntimeWorker.start(ROOT)


def decode(binding: str, data: protocol.ParameterBinding, pytype: type, **options):
    return from_incoming_proto(
        binding, data, pytype=pytype, function_name="f", trigger_metadata={}, **options
    )


def test_queue_message_carries_id_dequeue_count_and_timestamps():
    delivery = payloads.QueueDelivery(
        id="m-1",
        body=b'{"job_id": "j"}',
        dequeue_count=3,
        pop_receipt="receipt",
        inserted_on=WHEN,
        expires_on=WHEN.replace(day=11),
        next_visible_on=WHEN.replace(minute=7),
    )
    msg = from_incoming_proto(
        "queueTrigger",
        payloads.queue_message("msg", delivery),
        pytype=func.QueueMessage,
        trigger_metadata=payloads.queue_metadata(delivery),
        function_name="complete_batch",
    )
    assert (msg.id, msg.dequeue_count, msg.pop_receipt) == ("m-1", 3, "receipt")
    assert json.loads(msg.get_body()) == {"job_id": "j"}
    assert msg.insertion_time == WHEN
    assert msg.expiration_time == WHEN.replace(day=11)
    assert msg.time_next_visible == WHEN.replace(minute=7)


def test_timer_info_carries_schedule_status_and_past_due():
    info = payloads.timer_info(True, WHEN, WHEN.replace(minute=7))
    timer = decode(
        "timerTrigger", protocol.ParameterBinding(name="t", data=info), func.TimerRequest
    )
    assert timer.past_due is True
    assert timer.schedule == {"AdjustForDST": True}
    assert timer.schedule_status["Last"] == "2026-03-04T05:06:07+00:00"
    assert timer.schedule_status["Next"] == "2026-03-04T05:07:07+00:00"
    started_by_hand = payloads.timer_info(False, None, None)
    timer = decode(
        "timerTrigger", protocol.ParameterBinding(name="t", data=started_by_hand), func.TimerRequest
    )
    assert timer.past_due is False and timer.schedule_status == {}


def test_http_request_carries_route_parameters_query_headers_and_body():
    data = payloads.http_request(
        "req",
        "POST",
        "http://127.0.0.1:7071/api/jobs/j-1/cancel?why=test",
        {"Content-Type": "application/json"},
        {"why": "test"},
        {"job_id": "j-1"},
        b'{"a": 1}',
    )
    req = decode("httpTrigger", data, func.HttpRequest)
    assert (req.method, req.url) == ("POST", "http://127.0.0.1:7071/api/jobs/j-1/cancel?why=test")
    assert req.route_params == {"job_id": "j-1"} and req.params == {"why": "test"}
    assert req.get_json() == {"a": 1} and req.headers["content-type"] == "application/json"


def test_http_response_comes_back_with_status_headers_and_body():
    response = func.HttpResponse('{"x": 1}', status_code=202, mimetype="application/json")
    value = to_outgoing_proto("http", response, pytype=func.HttpResponse, protos=protocol)
    reply = payloads.http_reply(protocol.InvocationResponse(return_value=value))
    assert (reply.status, reply.body) == (202, b'{"x": 1}')
    assert reply.headers["content-type"] == "application/json"


def test_blob_event_becomes_a_blob_client_for_that_blob(monkeypatch, azurite):
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    data = payloads.blob_reference("client", "AzureWebJobsStorage", "batch-input", "a/b.jsonl")
    content = json.loads(data.data.model_binding_data.content)
    assert content == {
        "Connection": "AzureWebJobsStorage",
        "ContainerName": "batch-input",
        "BlobName": "a/b.jsonl",
    }
    assert data.data.model_binding_data.source == "AzureStorageBlobs"
    path_data = {"name": "a/b.jsonl"}  # the {name} of the trigger path %INPUTS%/{name}
    metadata = payloads.blob_metadata(
        "batch-input", "a/b.jsonl", "http://x/a/b.jsonl", {}, path_data
    )
    client = from_incoming_proto(
        "blobTrigger",
        data,
        pytype=blob.BlobClient,
        trigger_metadata=metadata,
        function_name="submit_prompt_file",
        is_deferred_binding=True,
    )
    assert (client.container_name, client.blob_name) == ("batch-input", "a/b.jsonl")
    assert client.account_name == "devstoreaccount1"
    assert metadata["BlobTrigger"].string == "batch-input/a/b.jsonl"
    assert metadata["name"].string == "a/b.jsonl"
