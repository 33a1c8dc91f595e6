"""Telemetry: one event per job state change and the app's metrics, with OpenTelemetry, to
Application Insights in Azure and to a local file or the console otherwise.

Import the modules themselves (`events`, `metrics`, `setup`), not this package: each is a leaf
of the import graph, so the job store can report state changes without deepening it.
"""
