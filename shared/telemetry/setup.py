"""configure(): who exports the app's telemetry, decided once per process by function_app.py.

In Azure the way Microsoft documents it for Python Functions ("Use OpenTelemetry with Azure
Functions"): host.json `telemetryMode: OpenTelemetry`, the `azure-monitor-opentelemetry`
distro, `APPLICATIONINSIGHTS_CONNECTION_STRING` and, for keyless ingestion,
`APPLICATIONINSIGHTS_AUTHENTICATION_STRING` (read by the distro's exporters). With
`PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true` the Python worker runs the distro itself
before it loads this app and streams the worker's telemetry directly, which prevents the
duplicate host-level log entries; calling the distro again here would add a second exporter
and duplicate every record, so in that mode the app adds nothing. Without the switch, the app
runs the distro for its own events and metrics only (logger "batchdrop.telemetry"), leaving
its log lines to the host as before, so nothing is sent twice either way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum

from shared.config import TelemetrySettings
from shared.telemetry.events import LOGGER

# The Azure SDKs log every request's and response's headers at INFO, and the openai SDK's HTTP
# client one line per request: in a batch app that is almost the whole log (and billed
# ingestion in Application Insights). Warnings still show.
QUIET_LOGGERS = (
    "azure",
    "azure.core.pipeline.policies.http_logging_policy",
    "httpx2",
    "httpx",
    "openai",
)
# ...but not the Functions runtime's own lines (indexing, errors): they are the host log.
RUNTIME_LOGGER = "azure.functions"
# Except the Python worker's line for every invocation: the host logs and records each
# invocation itself (Executing/Executed, requests in Application Insights), so this line only
# repeats it, once a minute for the poller and once per call of the HTTP API.
INVOCATION_LINE = "Function name: %s, Function Type: %s"


class RepeatedInvocationLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != INVOCATION_LINE


class Mode(StrEnum):
    WORKER = "worker"  # the Functions Python worker exports (PYTHON_APPLICATIONINSIGHTS_...)
    DISTRO = "distro"  # the app runs the Azure Monitor distro for its events and metrics
    LOCAL = "local"  # JSON lines to BATCHDROP_TELEMETRY_FILE ("-": the console)
    OFF = "off"  # nothing configured: events are plain log lines


_distro_started = False


def choose(settings: TelemetrySettings) -> Mode:
    if settings.file:
        return Mode.LOCAL
    if settings.connection_string:
        return Mode.WORKER if settings.worker_exports else Mode.DISTRO
    return Mode.OFF


def configure(env: Mapping[str, str] | None = None) -> Mode:
    """Set up telemetry for this process; safe to call again (tests point it at new files)."""
    quiet_azure_sdk()
    logging.getLogger(LOGGER).setLevel(logging.INFO)
    settings = TelemetrySettings.from_env(env)
    mode = choose(settings)
    from shared.telemetry import local  # the OpenTelemetry SDK, only once configuring

    if mode is Mode.LOCAL and settings.file:
        local.install(settings.file)
    else:
        local.silence()
    if mode is Mode.DISTRO:
        _start_distro()
    return mode


def quiet_azure_sdk() -> None:
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    runtime = logging.getLogger(RUNTIME_LOGGER)
    if runtime.level in (logging.NOTSET, logging.WARNING):
        runtime.setLevel(logging.INFO)
    if not any(isinstance(f, RepeatedInvocationLines) for f in runtime.filters):
        runtime.addFilter(RepeatedInvocationLines())


def flush() -> None:
    """Export what is pending now (tests; the end of a local run)."""
    from opentelemetry import metrics
    from opentelemetry._logs import get_logger_provider

    for provider in (metrics.get_meter_provider(), get_logger_provider()):
        force_flush = getattr(provider, "force_flush", None)
        if callable(force_flush):
            force_flush()


def _start_distro() -> None:
    global _distro_started
    if _distro_started:
        return
    from azure.monitor.opentelemetry import configure_azure_monitor

    # The connection string and APPLICATIONINSIGHTS_AUTHENTICATION_STRING come from the
    # environment; only this app's event logger is exported (the host forwards the rest).
    configure_azure_monitor(logger_name=LOGGER)
    _distro_started = True
