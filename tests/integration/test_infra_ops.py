"""Offline checks of the monitoring the deployment sets up for the app's own telemetry: the
workbook's JSON and every query of the workbook and the new alert rules, against the columns
Microsoft documents for the workspace tables (Azure Monitor Logs reference: AppEvents,
AppMetrics) and against the event, attribute and metric names shared/telemetry really sends.
What only Azure can tell (that the queries run, that the rules fire) is in docs/deploy.md."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from shared.jobs.model import Job, JobStatus, Part
from shared.telemetry import events
from shared.telemetry import metrics as m
from tests.integration.test_infra import (  # noqa: F401 - fixtures
    INFRA,
    REPO,
    app_settings,
    body,
    infra_venv,
    one,
    param,
    parsed,
    ref,
    resources,
    tree,
)

WORKBOOK = json.loads((INFRA / "app" / "workbook.json").read_text())
# Microsoft Learn, "Azure Monitor Logs reference": the columns of the workspace-based tables.
COLUMNS = {
    "AppEvents": {
        "TimeGenerated", "Name", "Properties", "Measurements", "ItemCount", "AppRoleName",
        "AppRoleInstance", "OperationId", "OperationName", "_ResourceId",
    },
    "AppMetrics": {
        "TimeGenerated", "Name", "Sum", "Min", "Max", "ItemCount", "Properties", "AppRoleName",
        "AppRoleInstance", "_ResourceId",
    },
}  # fmt: skip
EVENT_NAMES = {events.STATE_CHANGED, events.PROGRESS}
METRIC_NAMES = {
    events.STATE_CHANGES, events.UPLOAD_TO_RESULTS, m.REQUESTS, m.TOKENS, m.COST,
    m.QUOTA_WAITS, m.CONFIG_ERRORS, m.POISON_MESSAGES, m.OPEN_JOBS, m.OLDEST_OPEN_JOB,
    m.JOBS_BY_STATE, m.POLL_TICKS, m.POLL_DURATION,
}  # fmt: skip
METRIC_ATTRIBUTES = {"deployment", "direction", "outcome", "queue", "age", "status",
                     "previous_status", "jobs", "model", "price", "setting"}  # fmt: skip
KQL_OPERATORS = {"where", "extend", "project", "summarize", "order", "top", "render", "by"}


def event_attributes() -> set[str]:
    job = Job.new("c", "n.jsonl", "e")
    finished = replace(
        job,
        status=JobStatus.COMPLETED,
        estimated_cost=0.5,
        saving=0.5,
        parts=(Part(0, "d", "/chat/completions", 1),),
        updated_at=job.created_at + timedelta(days=1),
    )
    return set(events.job_event(finished, JobStatus.COMPLETING))


def workbook_queries() -> dict[str, str]:
    return {i["name"]: i["content"]["query"] for i in WORKBOOK["items"] if i["type"] == 3}


def alert_queries(parsed_bicep: dict[str, Any]) -> dict[str, str]:
    variables = tree(parsed_bicep, "app/alerts.bicep")["variables"]
    return {name: variables[name]["value"] for name in ("failedJobsQuery", "pollerQuery")}


def without_strings(query: str) -> str:
    return re.sub(r'"[^"]*"|\'[^\']*\'', '""', query)


def check_query(name: str, query: str) -> None:
    table = query.split("|")[0].strip()
    assert table in COLUMNS, f"{name}: reads {table!r}"
    code = without_strings(query)
    # Capitalised identifiers are the table's columns (functions, operators and the names the
    # queries project are lower case); workbook parameters are {Braced}.
    code = re.sub(r"\{[A-Za-z]+(:[a-z]+)?\}", "", code)
    columns = set(re.findall(r"\b[A-Z_][A-Za-z_]*\b", code)) - {table}
    assert columns <= COLUMNS[table], f"{name}: unknown columns {columns - COLUMNS[table]}"
    keys = set(re.findall(r"Properties\.([a-z_]+)", query))
    allowed = event_attributes() if table == "AppEvents" else METRIC_ATTRIBUTES
    assert keys <= allowed, f"{name}: the app sends no {keys - allowed}"
    names = set(re.findall(r'Name (?:==|in \()\s*"([^"]+)"', query))
    names |= set(re.findall(r'"(batchdrop\.[a-z_.]+)"', query))
    known = EVENT_NAMES if table == "AppEvents" else METRIC_NAMES
    assert names and names <= known, f"{name}: {names - known} is never sent"
    assert status_literals(query) <= {s.value for s in JobStatus}, name


def status_literals(query: str) -> set[str]:
    """The states a query compares `status` with."""
    found: set[str] = set()
    for group in re.findall(r'status\)?\s*(?:==|!in|in)\s*\(?((?:\s*"[a-z_]+",?)+)', query):
        found |= set(re.findall(r'"([a-z_]+)"', group))
    return found


@pytest.mark.parametrize("name", sorted(workbook_queries()))
def test_workbook_queries_read_documented_columns_and_what_the_app_sends(name):
    check_query(name, workbook_queries()[name])


def test_alert_queries_read_documented_columns_and_what_the_app_sends(parsed):  # noqa: F811
    for name, query in alert_queries(parsed).items():
        check_query(name, query)


def test_the_workbook_is_a_valid_notebook():
    assert WORKBOOK["version"] == "Notebook/1.0"
    assert WORKBOOK["fallbackResourceIds"] == ["__WORKSPACE_ID__"]
    [parameters] = [i for i in WORKBOOK["items"] if i["type"] == 9]
    defined = {p["name"]: p for p in parameters["content"]["parameters"]}
    ids = [p["id"] for p in defined.values()]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", i) for i in ids)
    assert defined["TimeRange"]["type"] == 4
    assert set(defined) == {"TimeRange"}  # costs come priced by the app, per served model
    names = [i["name"] for i in WORKBOOK["items"]]
    assert len(set(names)) == len(names)
    for item in WORKBOOK["items"]:
        assert item["type"] in (1, 3, 9), item["name"]
        if item["type"] != 3:
            continue
        content = item["content"]
        assert content["version"] == "KqlItem/1.0"
        assert (content["queryType"], content["resourceType"]) == (
            0,
            "microsoft.operationalinsights/workspaces",
        )
        assert content["visualization"] in ("table", "timechart", "barchart", "tiles")
        assert content.get("timeContextFromParameter") == "TimeRange" or content["timeContext"]
        for used in re.findall(r"\{([A-Za-z]+)(?::[a-z]+)?\}", content["query"]):
            assert used in defined, f"{item['name']} uses undefined parameter {used}"


def test_the_workbook_covers_what_operators_asked_for():
    queries = workbook_queries()
    # Open jobs are those not in a final state, as the app counts them.
    assert status_literals(queries["open-jobs"]) == events.FINISHED
    assert status_literals(queries["failures"]) == {"failed", "rejected", "expired", "cancelled"}
    assert {"jobs-by-state", "open-jobs", "failures", "tokens-cost", "slowest"} <= set(queries)
    assert "last_error" in queries["failures"] and "progress_percent" in queries["open-jobs"]
    assert "estimated_cost" in queries["tokens-cost"] and "saving" in queries["tokens-cost"]
    assert '"batchdrop.cost"' in queries["tokens-cost"]
    assert '"batchdrop.config.errors"' in queries["quota-poison"]
    assert "upload_to_results_seconds" in queries["slowest"]


def test_the_workbook_resource_opens_on_the_workspace(parsed):  # noqa: F811
    workbook = one(parsed, "app/workbook.bicep", "Microsoft.Insights/workbooks")
    assert workbook["kind"] == "shared"
    props = workbook["properties"]
    assert (props["category"], props["version"]) == ("workbook", "Notebook/1.0")
    assert props["sourceId"] == "logAnalyticsWorkspaceId"
    assert props["serializedData"] == "serializedData"
    text = (INFRA / "app" / "workbook.bicep").read_text()
    assert "replace(loadTextContent('workbook.json'), '__WORKSPACE_ID__', " in text
    module = body(tree(parsed, "main.bicep")["modules"]["workbook"])["params"]
    assert ref(module["logAnalyticsWorkspaceId"]) == "monitoring.outputs.logAnalyticsId"
    assert module["name"]["function"]["type"] == "guid"


def test_failed_jobs_and_a_stopped_poller_raise_alerts(parsed):  # noqa: F811
    rules = resources(parsed, "app/alerts.bicep", "Microsoft.Insights/scheduledQueryRules")
    failed = body(rules["failedJobsAlert"])["properties"]
    poller = body(rules["pollerStoppedAlert"])["properties"]
    for rule in (failed, poller):
        assert rule["scopes"] == ["logAnalyticsWorkspaceId"]
        assert rule["actions"] == "logAlertActions" and rule["enabled"] is True
    [criterion] = failed["criteria"]["allOf"]
    assert criterion["query"] == "failedJobsQuery"
    assert (criterion["operator"], criterion["threshold"]) == ("GreaterThan", 0)
    queries = alert_queries(parsed)
    assert 'tostring(Properties.status) == "failed"' in queries["failedJobsQuery"]
    [criterion] = poller["criteria"]["allOf"]
    assert criterion["query"] == "pollerQuery"
    assert (criterion["operator"], criterion["threshold"]) == ("LessThan", 1)
    assert criterion["timeAggregation"] == "Total"
    # The measure column is the one the query's summarize makes (one row even with no ticks).
    assert f"summarize {criterion['metricMeasureColumn']} = count()" in queries["pollerQuery"]
    assert poller["windowSize"] == "pollerSilence"
    assert param(parsed, "app/alerts.bicep", "pollerSilence")["default"] == "PT15M"


def test_the_app_telemetry_is_set_up_the_documented_way(parsed):  # noqa: F811
    settings = app_settings(parsed)
    assert settings["PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY"] == "true"
    assert settings["BATCH_PRICES"] == "prices"
    host = json.loads((REPO / "host.json").read_text())
    assert host["telemetryMode"] == "OpenTelemetry"
    pins = (REPO / "requirements.txt").read_text()
    assert re.search(r"^azure-monitor-opentelemetry==\d", pins, re.M)
    function_app = (REPO / "function_app.py").read_text()
    assert function_app.count("telemetry.configure()") == 1
