"""The triggers and nothing else: read the binding, call one use case, return."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob

from shared import completion, health, http_api, openapi, poll, upload
from shared.deps import default_deps
from shared.lifecycle.operator import NotAllowed
from shared.telemetry import metrics
from shared.telemetry import setup as telemetry

telemetry.configure()  # once per process, before any function runs
app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
log = logging.getLogger("batchdrop")


@app.function_name("submit_prompt_file")
@app.blob_trigger(
    arg_name="client",
    path="%BATCH_INPUT_CONTAINER%/{name}",
    connection="AzureWebJobsStorage",
    source=func.BlobSource.EVENT_GRID,
)
def submit_prompt_file(client: blob.BlobClient) -> None:
    # An SDK-type binding: the blob is streamed by the use case, never loaded whole.
    upload.receive_blob(default_deps(), client.container_name, client.blob_name)


@app.function_name("poll_batches")
@app.timer_trigger(arg_name="timer", schedule="%POLL_SCHEDULE%", run_on_startup=False)
def poll_batches(timer: func.TimerRequest) -> None:
    if timer.past_due:
        log.info("poll tick is past due; running now")
    started = time.monotonic()
    report = poll.poll_all(default_deps())
    # The heartbeat the "poller not running" alert watches.
    metrics.record_poll_tick(time.monotonic() - started, report.seen)


@app.function_name("complete_batch")
@app.queue_trigger(
    arg_name="msg", queue_name="%BATCH_COMPLETION_QUEUE%", connection="AzureWebJobsStorage"
)
def complete_batch(msg: func.QueueMessage) -> None:
    completion.complete_job(default_deps(), json.loads(msg.get_body())["job_id"])


@app.function_name("list_jobs")
@app.route(route="jobs", methods=["GET"])
def list_jobs(req: func.HttpRequest) -> func.HttpResponse:
    try:
        return _json(http_api.list_jobs(default_deps(), req.params))
    except http_api.BadRequest as exc:
        return _json({"error": str(exc)}, 400)


@app.function_name("get_job")
@app.route(route="jobs/{job_id}", methods=["GET"])
def get_job(req: func.HttpRequest) -> func.HttpResponse:
    view = http_api.get_job(default_deps(), req.route_params["job_id"])
    return _json(view) if view else _json({"error": "no such job"}, 404)


@app.function_name("cancel_job")
@app.route(route="jobs/{job_id}/cancel", methods=["POST"])
def cancel_job(req: func.HttpRequest) -> func.HttpResponse:
    return _asked(lambda: http_api.cancel_job(default_deps(), req.route_params["job_id"]))


@app.function_name("retry_job")
@app.route(route="jobs/{job_id}/retry", methods=["POST"])
def retry_job(req: func.HttpRequest) -> func.HttpResponse:
    return _asked(lambda: http_api.retry_job(default_deps(), req.route_params["job_id"]))


def _asked(ask: Callable[[], dict[str, Any] | None]) -> func.HttpResponse:
    """202 when the request was written, 200 when one was already pending, 409 when the job
    cannot do it, 404 when there is no such job."""
    try:
        body = ask()
    except NotAllowed as exc:
        return _json({"error": str(exc)}, 409)
    if body is None:
        return _json({"error": "no such job"}, 404)
    return _json(body, 202 if body["requested"] else 200)


@app.function_name("health")
@app.route(route="health", methods=["GET"])
def get_health(req: func.HttpRequest) -> func.HttpResponse:
    status, body = health.check_health()
    return _json(body, status)


@app.function_name("openapi")
@app.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def get_openapi(req: func.HttpRequest) -> func.HttpResponse:
    return _json(openapi.document())


def _json(body: object, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")
