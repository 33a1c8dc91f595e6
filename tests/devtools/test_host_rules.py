"""The host's own rules, which the Python runtime does not apply: %SETTING% expansion,
connection settings, NCRONTAB (more in test_host_azure_parity.py), host.json options, HTTP
routes, and the protocol messages' protobuf behaviour."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from devtools.host import bindings, protocol
from devtools.host.bindings import BindingError, HostConfig
from devtools.host.http import Route, find, route_pattern
from devtools.host.worker import LoadedFunction
from tests.conftest import ROOT


def test_settings_expand_from_the_app_settings():
    env = {"INPUTS": "uploads", "OUT": "results"}
    assert bindings.resolve("%INPUTS%/{name}", env) == "uploads/{name}"
    assert bindings.resolve("%INPUTS%-%OUT%", env) == "uploads-results"
    assert bindings.resolve("plain/{name}", {}) == "plain/{name}"


@pytest.mark.parametrize("env", [{}, {"INPUTS": ""}])
def test_an_unset_or_empty_setting_does_not_resolve(env):
    with pytest.raises(BindingError) as error:
        bindings.resolve("%INPUTS%/{name}", env)
    assert "'%INPUTS%' does not resolve to a value" in str(error.value)
    assert "set the app setting INPUTS" in str(error.value)


@pytest.mark.parametrize(
    "env",
    [
        {"AzureWebJobsStorage": "UseDevelopmentStorage=true"},
        {"AzureWebJobsStorage__accountName": "batchdropst"},
        {
            "AzureWebJobsStorage__blobServiceUri": "https://x.blob.core.windows.net",
            "AzureWebJobsStorage__queueServiceUri": "https://x.queue.core.windows.net",
        },
    ],
)
def test_a_connection_is_a_connection_string_or_identity_settings(env):
    bindings.check_connection("AzureWebJobsStorage", "blobTrigger", env)


def test_a_missing_connection_names_the_settings_to_define():
    with pytest.raises(BindingError) as error:
        bindings.check_connection(
            "Uploads", "blobTrigger", {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
        )
    message = str(error.value)
    assert "Storage account connection string 'Uploads' does not exist" in message
    assert "Uploads__blobServiceUri and Uploads__queueServiceUri" in message


def test_the_default_connection_is_azure_webjobs_storage():
    assert bindings.connection_name({"type": "queueTrigger"}) == "AzureWebJobsStorage"
    assert bindings.connection_name({"connection": "Uploads"}) == "Uploads"


def test_ncrontab_has_six_fields_seconds_first():
    start = datetime(2026, 1, 2, 10, 2, 30, tzinfo=UTC)
    ticks = bindings.next_occurrences("0 */5 * * * *", start, 2)
    assert ticks == [
        datetime(2026, 1, 2, 10, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 10, 10, tzinfo=UTC),
    ]
    assert [t.second for t in bindings.next_occurrences("*/10 * * * * *", start, 3)] == [40, 50, 0]


@pytest.mark.parametrize("expression", ["*/5 * * *", "61 * * * * *", "every minute", ""])
def test_a_schedule_that_is_not_ncrontab_is_refused(expression):
    with pytest.raises(BindingError) as error:
        bindings.schedule(expression)
    assert "was not recognized as a valid cron expression" in str(error.value)
    assert "six fields" in str(error.value) and "or five without the seconds" in str(error.value)


def test_host_json_queue_and_http_options(tmp_path):
    ours = HostConfig.read(ROOT)
    assert ours.queues == bindings.QueueOptions(
        max_dequeue_count=5, visibility_timeout=30, base64=True
    )
    assert ours.route_prefix == "api"
    custom = {
        "extensions": {
            "queues": {"maxDequeueCount": 2, "messageEncoding": "none"},
            "http": {"routePrefix": "/v1/"},
        }
    }
    (tmp_path / "host.json").write_text(json.dumps(custom))
    read = HostConfig.read(tmp_path)
    assert (read.queues.max_dequeue_count, read.queues.base64) == (2, False)
    assert (read.queues.visibility_timeout, read.route_prefix) == (0, "v1")
    assert HostConfig.read(tmp_path / "missing").queues == bindings.QueueOptions()


def test_route_templates_under_the_prefix():
    pattern = route_pattern("jobs/{job_id}/cancel")
    assert pattern.match("/api/jobs/j-1/cancel").groupdict() == {"job_id": "j-1"}
    assert pattern.match("/API/Jobs/j-1/Cancel/")  # literals ignore case, a trailing / is fine
    assert not pattern.match("/jobs/j-1/cancel")  # no api/ prefix
    assert not pattern.match("/api/jobs/j-1")
    assert not pattern.match("/api/jobs/a/b/cancel")
    assert route_pattern("jobs", prefix="").match("/jobs")


def test_route_constraints_optional_and_catch_all_segments():
    number = route_pattern("items/{n:int}")
    assert number.match("/api/items/12") and not number.match("/api/items/ab")
    optional = route_pattern("items/{id?}")
    assert optional.match("/api/items") and optional.match("/api/items/3")
    rest = route_pattern("files/{*path}")
    assert rest.match("/api/files/a/b/c.txt").group("path") == "a/b/c.txt"
    with pytest.raises(ValueError, match="not supported"):
        route_pattern("items/{n:regex}")


def test_routes_match_methods_and_decode_parameters():
    fn = LoadedFunction("get_job", "id", ({"type": "httpTrigger", "name": "req"},))
    get = Route(fn, route_pattern("jobs/{job_id}"), frozenset({"GET"}))
    anything = Route(fn, route_pattern("echo"), frozenset())
    table = [get, anything]
    assert find(table, "GET", "/api/jobs/a%20b") == (get, {"job_id": "a b"})
    assert find(table, "POST", "/api/jobs/a") is None
    assert find(table, "DELETE", "/api/echo") == (anything, {})


def test_messages_behave_like_protobuf():
    data = protocol.TypedData(json="{}")
    assert data.WhichOneof("data") == "json"
    assert protocol.TypedData().WhichOneof("data") is None
    binding = protocol.ParameterBinding(name="msg", data=data)
    assert binding.WhichOneof("rpc_data") == "data"
    # None means unset: the field keeps its default, as protobuf does.
    request = protocol.InvocationRequest(trace_context=None, input_data=None)
    assert request.trace_context.trace_parent == "" and request.input_data == []
    with pytest.raises(ValueError, match="more than one field of oneof data"):
        protocol.TypedData(string="a", bytes=b"a")
    assert getattr(protocol.BindingInfo, "in") == 0 and protocol.BindingInfo.out == 1
