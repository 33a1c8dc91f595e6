"""The local host refuses what Azure's host refuses and accepts what it accepts (issue 10):
function and binding names (azure-functions-host Utility.cs), NCRONTAB as the timer
extension's NCrontab parser reads it, the Event Grid blob source Flex Consumption runs, blob
bindings delivered by SupportsDeferredBinding, blob paths that filter, and a connection for
every storage service a trigger uses.

The runtime loads one app per process, so each throwaway app runs in its own subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devtools.host import bindings, blobpath, names, payloads
from devtools.host.bindings import BindingError
from tests.conftest import ROOT

HEAD = """
import json, os, pathlib
import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
"""


def write_app(app_dir: Path, body: str) -> None:
    app_dir.mkdir(exist_ok=True)
    (app_dir / "function_app.py").write_text(HEAD + textwrap.dedent(body))
    (app_dir / "host.json").write_text('{"version": "2.0"}')


def check(tmp_path: Path, body: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m devtools.host --check` on an app holding only `body`."""
    write_app(tmp_path / "app", body)
    full = {**os.environ, "AzureWebJobsStorage": "UseDevelopmentStorage=true", **env}
    args = ["-m", "devtools.host", "--check", "--settings", "/nonexistent"]
    return subprocess.run(
        [sys.executable, *args, "--app-dir", str(tmp_path / "app")],
        cwd=ROOT, env=full, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


# Names ----------------------------------------------------------------------------------------

NAMED = """
@app.function_name("{name}")
@app.route(route="{route}", trigger_arg_name="{arg}")
def {python}({arg}: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("x")
"""
REFUSED_NAMES = [("bad name!", "req"), ("host", "req"), ("9lives", "req"), ("x" * 129, "req")]


def test_function_and_binding_names_azure_refuses_stop_the_host(tmp_path):
    cases = [*REFUSED_NAMES, ("ok", "my__req")]
    body = "".join(
        NAMED.format(name=name, route=f"r{i}", arg=arg, python=f"f{i}")
        for i, (name, arg) in enumerate(cases)
    )
    done = check(tmp_path, body)
    assert done.returncode == 1, done.stdout
    for name, _ in REFUSED_NAMES:
        assert f"The '{name}' function is in error: '{name}' is not a valid function name." in (
            done.stderr
        )
    assert "The binding name my__req is invalid. Please assign a valid name" in done.stderr


def test_names_azure_accepts_pass(tmp_path):
    # Snake case (host 4.1038+), a leading '_', '-' in function names, 128 characters, HOSTS.
    cases = [("a-b_c", "my_req"), ("x" * 128, "_req"), ("Hosts", "req2")]
    body = "".join(
        NAMED.format(name=name, route=f"r{i}", arg=arg, python=f"f{i}")
        for i, (name, arg) in enumerate(cases)
    )
    done = check(tmp_path, body)
    assert done.returncode == 0, done.stderr[-800:]


@pytest.mark.parametrize("name", ["HOST", "_x", "a.b", "é", "a" * 129, ""])
def test_function_names_follow_utility_cs(name):
    assert names.function_name_problem(name)


def test_binding_names_must_be_unique_ignoring_case():
    problems = names.binding_name_problems([{"name": "req"}, {"name": "Req"}, {"name": "$return"}])
    assert problems == [
        "Multiple bindings with name 'Req' discovered. Binding names must be unique."
    ]


# NCRONTAB -------------------------------------------------------------------------------------

TIMERS = """
@app.timer_trigger(arg_name="timer", schedule="{schedule}")
def {python}(timer: func.TimerRequest) -> None:
    pass
"""
REFUSED_SCHEDULES = {
    "0 0 0 L * *": "'L' is not a valid [Day] crontab field value",
    "0 0 0 ? * *": "'?' is not a valid [Day] crontab field value",
    "0 0 0 * * 5#3": "'5#3' is not a valid [DayOfWeek] crontab field expression",
    "0 0 0 * * 7": "7 is higher than the maximum allowable value for the [DayOfWeek] field",
}


def test_schedules_ncrontab_refuses_stop_the_host(tmp_path):
    body = "".join(
        TIMERS.format(schedule=schedule, python=f"t{i}")
        for i, schedule in enumerate(REFUSED_SCHEDULES)
    )
    done = check(tmp_path, body)
    assert done.returncode == 1
    for i, (schedule, reason) in enumerate(REFUSED_SCHEDULES.items()):
        assert f"The 't{i}' function is in error: The schedule expression '{schedule}'" in (
            done.stderr
        )
        assert reason in done.stderr


def test_a_five_field_schedule_azure_accepts_passes_and_ticks_on_whole_minutes(tmp_path):
    # CronSchedule.HasSeconds: five fields are parsed without seconds, not refused.
    body = TIMERS.format(schedule="%POLL_SCHEDULE%", python="tick")
    done = check(tmp_path, body, POLL_SCHEDULE="*/5 * * * *")
    assert done.returncode == 0, done.stderr[-800:]
    start = datetime(2026, 1, 2, 10, 2, 30, tzinfo=UTC)
    assert bindings.next_occurrences("*/5 * * * *", start, 2) == [
        datetime(2026, 1, 2, 10, 5, tzinfo=UTC),
        datetime(2026, 1, 2, 10, 10, tzinfo=UTC),
    ]


@pytest.mark.parametrize(
    "expression",
    [
        "0 0 9 * * Mon-Fri",  # names are any prefix, any case
        "0 0 9 * * M",
        "0 0 0 1 Jan,Jul *",
        "0 30-10/5 * * * *",  # a reversed range is swapped
        "*/0 * * * * *",  # a step below 1 counts as 1
        "  0   */5 * * * *  ",
    ],
)
def test_schedules_ncrontab_accepts_are_accepted(expression):
    assert bindings.schedule(expression) == expression


@pytest.mark.parametrize(
    "expression", ["0 0 0 W * *", "0 0 0 1W * *", "0 0 0 * * 0-7", "0 0 * *", "*/5 * * * * * *"]
)
def test_more_schedules_ncrontab_refuses_are_refused(expression):
    with pytest.raises(BindingError, match="was not recognized as a valid cron expression"):
        bindings.schedule(expression)


def test_day_of_month_and_day_of_week_must_both_match():
    # Unix cron runs on the 1st OR on Mondays; NCrontab on a 1st that is a Monday.
    start = datetime(2026, 1, 2, tzinfo=UTC)
    assert bindings.next_occurrences("0 0 0 1 * Mon", start) == [datetime(2026, 6, 1, tzinfo=UTC)]


def test_a_schedule_that_never_occurs_is_accepted_and_never_ticks():
    assert bindings.next_occurrences("0 0 0 30 2 *", datetime(2026, 1, 1, tzinfo=UTC)) == []


def test_a_timespan_schedule_is_refused_because_flex_consumption_does_not_run_it():
    with pytest.raises(BindingError, match="is a TimeSpan, which Azure runs only on App Service"):
        bindings.schedule("00:05:00")


# Blob trigger: source, connection, delivery, path ----------------------------------------------


def test_a_polling_blob_trigger_is_refused_because_flex_runs_only_event_grid(tmp_path):
    body = """
    @app.blob_trigger(arg_name="client", path="inbox/{name}", connection="AzureWebJobsStorage")
    def b(client: blob.BlobClient) -> None:
        pass
    """
    done = check(tmp_path, body)
    assert done.returncode == 1
    assert "The 'b' function is in error: the blob trigger's source is LogsAndContainerScan" in (
        done.stderr
    )
    assert "Flex Consumption runs only the Event Grid source" in done.stderr


BLOB_URI = "https://acct.blob.core.windows.net"
QUEUE_URI = "https://acct.queue.core.windows.net"


@pytest.mark.parametrize(
    ("trigger", "env"),
    [
        ("queueTrigger", {"AzureWebJobsStorage__blobServiceUri": BLOB_URI}),
        ("blobTrigger", {"AzureWebJobsStorage__blobServiceUri": BLOB_URI}),
        ("blobTrigger", {"AzureWebJobsStorage__queueServiceUri": QUEUE_URI}),
    ],
)
def test_a_trigger_without_a_service_it_uses_has_no_connection(trigger, env):
    with pytest.raises(BindingError, match="has no (queue|blob) service"):
        bindings.check_connection("AzureWebJobsStorage", trigger, env)


@pytest.mark.parametrize(
    ("name", "trigger", "env"),
    [
        (
            "AzureWebJobsStorage",
            "queueTrigger",
            {"AzureWebJobsStorage__queueServiceUri": QUEUE_URI},
        ),
        ("AzureWebJobsStorage", "blobTrigger", {"AzureWebJobsStorage__accountName": "acct"}),
        (
            "AzureWebJobsStorage",
            "blobTrigger",
            {
                "AzureWebJobsStorage__blobServiceUri": BLOB_URI,
                "AzureWebJobsStorage__queueServiceUri": QUEUE_URI,
            },
        ),  # fmt: skip
        # serviceUri alone: the blob trigger's queue is host storage's.
        ("Inputs", "blobTrigger", {"Inputs__serviceUri": BLOB_URI, "AzureWebJobsStorage": "x"}),
        ("Inputs", "queueTrigger", {"Inputs__serviceUri": QUEUE_URI}),
        ("Storage", "queueTrigger", {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}),
    ],
)
def test_connections_azure_accepts_pass(name, trigger, env):
    bindings.check_connection(name, trigger, env)


def test_account_name_is_for_azure_webjobs_storage_only():
    with pytest.raises(BindingError, match="read for AzureWebJobsStorage only"):
        bindings.check_connection("Inputs", "blobTrigger", {"Inputs__accountName": "acct"})
    with pytest.raises(BindingError, match="Inputs__blobServiceUri and Inputs__queueServiceUri"):
        bindings.check_connection("Inputs", "blobTrigger", {})


def test_the_deferred_binding_flag_reads_as_the_host_reads_it():
    assert payloads.supports_deferred_binding({"properties": {"SupportsDeferredBinding": True}})
    assert payloads.supports_deferred_binding({"properties": {"supportsDeferredBinding": "true"}})
    assert not payloads.supports_deferred_binding(
        {"properties": {"SupportsDeferredBinding": False}}
    )
    assert not payloads.supports_deferred_binding({})


def test_path_parameters_match_and_become_binding_data():
    path = blobpath.parse("inbox/{name}.{ext}")
    assert path.match("inbox", "dir/a.b.jsonl") == {"name": "dir/a.b", "ext": "jsonl"}
    assert path.match("inbox", "noext") is None
    assert path.match("other", "a.jsonl") is None
    assert blobpath.parse("inbox").match("inbox", "any/thing") == {}
    assert blobpath.parse("inbox/{{x}}.txt").match("inbox", "{x}.txt") == {}
    for bad in ("inbox/", "/a", "in{box}/a", "inbox/{a"):
        with pytest.raises(BindingError, match="Invalid"):
            blobpath.parse(bad)


DELIVER = """
import sys
from azure.storage.blob import BlobServiceClient
from devtools.host.runner import FunctionHost
conn, app_dir = sys.argv[1], sys.argv[2]
service = BlobServiceClient.from_connection_string(conn)
container = service.get_container_client("inbox")
if not container.exists():
    container.create_container()
for name in ("a.jsonl", "b.csv"):
    container.upload_blob(name, b'{"hello": 1}\\n', overwrite=True)
host = FunctionHost(app_dir, conn)
print("NEW", sorted(n for n, _ in host.new_blobs()))
for name in sys.argv[3:]:
    host.deliver_blob(name)
print("DELIVERED")
"""


def deliver(azurite, tmp_path: Path, body: str, *blob_names: str):
    """Upload inbox/a.jsonl and inbox/b.csv, list what the host would announce, deliver."""
    write_app(tmp_path / "app", body)
    (tmp_path / "deliver.py").write_text(DELIVER)
    env = {**os.environ, "AzureWebJobsStorage": azurite.connection_string,
           "PYTHONPATH": str(ROOT), "OUT": str(tmp_path / "seen.json")}  # fmt: skip
    args = [str(tmp_path / "deliver.py"), azurite.connection_string, str(tmp_path / "app")]
    return subprocess.run(
        [sys.executable, *args, *blob_names],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def seen(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "seen.json").read_text())


def test_an_input_stream_blob_trigger_gets_the_blob_content(azurite, tmp_path):
    # Without SupportsDeferredBinding the host sends the blob's bytes, not a reference.
    body = """
    @app.blob_trigger(arg_name="stream", path="inbox/{name}", connection="AzureWebJobsStorage",
                      source=func.BlobSource.EVENT_GRID)
    def b(stream: func.InputStream) -> None:
        seen = {"name": stream.name, "length": stream.length, "data": stream.read().decode()}
        pathlib.Path(os.environ["OUT"]).write_text(json.dumps(seen))
    """
    done = deliver(azurite, tmp_path, body, "a.jsonl")
    assert "DELIVERED" in done.stdout, done.stderr[-800:]
    assert seen(tmp_path) == {"name": "inbox/a.jsonl", "length": 13, "data": '{"hello": 1}\n'}


def test_a_bytes_blob_trigger_gets_the_blob_content(azurite, tmp_path):
    body = """
    @app.blob_trigger(arg_name="data", path="inbox/{name}", connection="AzureWebJobsStorage",
                      source=func.BlobSource.EVENT_GRID)
    def b(data: bytes) -> None:
        pathlib.Path(os.environ["OUT"]).write_text(json.dumps({"data": data.decode()}))
    """
    done = deliver(azurite, tmp_path, body, "a.jsonl")
    assert "DELIVERED" in done.stdout, done.stderr[-800:]
    assert seen(tmp_path) == {"data": '{"hello": 1}\n'}


def test_blobs_outside_the_trigger_path_are_not_delivered(azurite, tmp_path):
    body = """
    @app.blob_trigger(arg_name="client", path="inbox/{name}.jsonl",
                      connection="AzureWebJobsStorage", source=func.BlobSource.EVENT_GRID)
    def b(client: blob.BlobClient) -> None:
        pathlib.Path(os.environ["OUT"]).write_text(json.dumps({"blob": client.blob_name}))
    """
    done = deliver(azurite, tmp_path, body, "b.csv")  # an event for a blob outside the path
    assert "NEW ['a.jsonl']" in done.stdout, done.stdout + done.stderr[-800:]
    assert "DELIVERED" in done.stdout, done.stderr[-800:]
    assert not (tmp_path / "seen.json").exists()
    done = deliver(azurite, tmp_path, body, "a.jsonl")
    assert seen(tmp_path) == {"blob": "a.jsonl"}
