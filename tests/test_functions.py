"""Pins the function names (the Event Grid webhook URL depends on them) and their bindings."""

import inspect

from croniter import croniter

import function_app
from devtools.host import registry, resolve
from shared.config import DEFAULTS

EXPECTED = {
    "submit_prompt_file": "blobTrigger",
    "poll_batches": "timerTrigger",
    "complete_batch": "queueTrigger",
    "list_jobs": "httpTrigger",
    "get_job": "httpTrigger",
    "cancel_job": "httpTrigger",
    "health": "httpTrigger",
    "openapi": "httpTrigger",
}
# Served without a key: the API's description holds no data (shared/openapi.py says why).
ANONYMOUS = {"openapi"}


def test_function_names_and_trigger_types_are_pinned():
    found = {name: fn.trigger["type"] for name, fn in registry(function_app.app).items()}
    assert found == EXPECTED


def test_each_arg_name_matches_its_parameter():
    for fn in registry(function_app.app).values():
        params = list(inspect.signature(fn.function).parameters)
        assert params == [fn.arg_name], fn.name


def test_blob_trigger_uses_event_grid_on_the_input_container():
    trigger = registry(function_app.app)["submit_prompt_file"].trigger
    assert trigger["source"] == "EventGrid"
    assert trigger["connection"] == "AzureWebJobsStorage"
    assert resolve(trigger["path"], {}) == f"{DEFAULTS['BATCH_INPUT_CONTAINER']}/{{name}}"


def test_queue_and_timer_read_their_settings():
    fns = registry(function_app.app)
    assert fns["complete_batch"].trigger["queueName"] == "%BATCH_COMPLETION_QUEUE%"
    schedule = fns["poll_batches"].trigger["schedule"]
    assert schedule == "%POLL_SCHEDULE%"
    assert fns["poll_batches"].trigger.get("runOnStartup") is False
    default = resolve(schedule, {})
    assert len(default.split()) == 6  # NCRONTAB: seconds first
    assert croniter.is_valid(default, second_at_beginning=True)


def test_http_routes():
    fns = registry(function_app.app)
    routes = {
        n: (f.trigger["route"], [str(getattr(m, "value", m)) for m in f.trigger["methods"]])
        for n, f in fns.items()
        if f.trigger["type"] == "httpTrigger"
    }
    assert routes == {
        "list_jobs": ("jobs", ["GET"]),
        "get_job": ("jobs/{job_id}", ["GET"]),
        "cancel_job": ("jobs/{job_id}/cancel", ["POST"]),
        "health": ("health", ["GET"]),
        "openapi": ("openapi.json", ["GET"]),
    }
    for fn in fns.values():
        if fn.trigger["type"] == "httpTrigger":
            level = "anonymous" if fn.name in ANONYMOUS else "function"
            assert str(getattr(fn.trigger["authLevel"], "value", "")) == level, fn.name
