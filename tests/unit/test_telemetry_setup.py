"""Who exports telemetry, and where the telemetry package sits in the import graph."""

from __future__ import annotations

import logging

import pytest

from devtools.imports import graph
from shared.config import TelemetrySettings
from shared.telemetry import setup
from shared.telemetry.setup import Mode, choose

EDGES = graph()


@pytest.mark.parametrize(
    ("settings", "mode"),
    [
        # Azure as deployed: the Python worker runs the distro; adding it again duplicates.
        (TelemetrySettings(None, connection_string=True, worker_exports=True), Mode.WORKER),
        # Without the worker switch the app exports its own events and metrics.
        (TelemetrySettings(None, connection_string=True, worker_exports=False), Mode.DISTRO),
        # Locally a file (or "-", the console) wins.
        (TelemetrySettings("t.jsonl", connection_string=True, worker_exports=True), Mode.LOCAL),
        (TelemetrySettings(None, connection_string=False, worker_exports=True), Mode.OFF),
    ],
)
def test_the_exporter_is_chosen_from_the_settings(settings, mode):
    assert choose(settings) is mode


def test_configure_quiets_the_azure_sdk_request_logging():
    for name in setup.QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
    assert setup.configure({}) is Mode.OFF
    sdk = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
    assert not sdk.isEnabledFor(logging.INFO)
    assert sdk.isEnabledFor(logging.WARNING)
    assert not logging.getLogger("azure.storage.blob").isEnabledFor(logging.INFO)
    assert logging.getLogger("batchdrop.telemetry").isEnabledFor(logging.INFO)


def test_the_modules_the_store_and_the_steps_call_are_leaves():
    """The job store reports state changes: what it imports must import nothing from shared/,
    or the store's chain gets deeper (and could close a cycle)."""
    for leaf in ("shared.telemetry.events", "shared.telemetry.metrics"):
        assert EDGES[leaf] == set(), leaf
    assert EDGES["shared.telemetry"] == set()


def test_setup_sits_on_config_only():
    assert EDGES["shared.telemetry.setup"] <= {
        "shared.config",
        "shared.telemetry.events",
        "shared.telemetry.local",
    }
    assert EDGES["shared.telemetry.local"] == {"shared.telemetry.events"}
    users = {m for m, targets in EDGES.items() if "shared.telemetry.setup" in targets}
    assert users == set(), "only function_app.py configures telemetry"
