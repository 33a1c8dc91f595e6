"""Telemetry off Azure: the same events and metrics as JSON lines in a file or on the console.

The OpenTelemetry SDK runs as in Azure (the logging handler the Azure Monitor distro uses, a
periodic metric reader with the exporter's delta temporality); only the exporters differ, so
what a test reads here is what Application Insights would receive. One line per event:
{"type": "event", "name", "time", "body", "attributes"}; per metric point:
{"type": "metric", "name", "unit", "kind": "sum"|"gauge"|"histogram", "attributes", "time",
"value"} (histograms: "count", "sum", "min", "max" instead of "value").
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from opentelemetry._logs import set_logger_provider
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.metrics import set_meter_provider
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    LogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider, ObservableCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.metrics.export import Histogram as HistogramData
from opentelemetry.sdk.metrics.export import Sum as SumData
from opentelemetry.sdk.resources import Resource
from opentelemetry.util.types import Attributes

from shared.telemetry.events import CUSTOM_EVENT, LOGGER

CONSOLE = "-"
EXPORT_INTERVAL_MS = 30_000
# As the Azure Monitor metric exporter asks for them: counts per interval, gauges as they are.
TEMPORALITY: dict[type, AggregationTemporality] = {
    Counter: AggregationTemporality.DELTA,
    Histogram: AggregationTemporality.DELTA,
    ObservableCounter: AggregationTemporality.DELTA,
}


class Sink:
    """Where the lines go; re-pointed by each configure(), so tests can give each its own file."""

    def __init__(self) -> None:
        self.target: str | None = None
        self._lock = threading.Lock()

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        target = self.target
        if not target or not rows:
            return
        text = "".join(json.dumps(row, default=str, sort_keys=True) + "\n" for row in rows)
        with self._lock:
            if target == CONSOLE:
                sys.stderr.write(text)
                sys.stderr.flush()
            else:
                with open(target, "a", encoding="utf-8") as out:
                    out.write(text)


SINK = Sink()
_providers: tuple[LoggerProvider, MeterProvider] | None = None


class EventExporter(LogRecordExporter):
    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        SINK.write([event_row(item) for item in batch])
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class MetricLinesExporter(MetricExporter):
    def __init__(self) -> None:
        super().__init__(preferred_temporality=dict(TEMPORALITY))

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        SINK.write(metric_rows(metrics_data))
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        pass


def install(target: str) -> None:
    """Point the sink at `target` and, once per process, install the SDK providers."""
    global _providers
    SINK.target = target
    if _providers is not None:
        return
    resource = Resource.create({"service.name": "batchdrop"})
    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(SimpleLogRecordProcessor(EventExporter()))
    reader = PeriodicExportingMetricReader(
        MetricLinesExporter(), export_interval_millis=EXPORT_INTERVAL_MS
    )
    meters = MeterProvider(metric_readers=[reader], resource=resource)
    set_logger_provider(logs)
    set_meter_provider(meters)
    logging.getLogger(LOGGER).addHandler(LoggingHandler(logger_provider=logs))
    _providers = (logs, meters)


def silence() -> None:
    """Stop writing lines (the providers stay: OpenTelemetry allows setting them only once)."""
    SINK.target = None


def flush() -> None:
    """Export the metrics gathered so far (events are written as they happen)."""
    if _providers is not None:
        _providers[0].force_flush()
        _providers[1].force_flush()


def event_row(item: ReadableLogRecord) -> dict[str, Any]:
    record = item.log_record
    attributes = dict(record.attributes or {})
    name = attributes.pop(CUSTOM_EVENT, None)
    return {
        "type": "event" if name else "log",
        "name": name,
        "time": _iso(record.timestamp),
        "severity": record.severity_text,
        "body": record.body,
        "attributes": attributes,
    }


def metric_rows(data: MetricsData) -> list[dict[str, Any]]:
    rows = []
    for resource_metrics in data.resource_metrics:
        for scope in resource_metrics.scope_metrics:
            for metric in scope.metrics:
                kind = _kind(metric.data)
                for point in metric.data.data_points:
                    rows.append(_point_row(metric.name, metric.unit, kind, point))
    return rows


def _kind(data: object) -> str:
    if isinstance(data, HistogramData):
        return "histogram"
    return "sum" if isinstance(data, SumData) else "gauge"


def _point_row(name: str, unit: str | None, kind: str, point: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "type": "metric",
        "name": name,
        "unit": unit,
        "kind": kind,
        "attributes": _plain(point.attributes),
        "time": _iso(point.time_unix_nano),
    }
    if kind == "histogram":
        row.update(count=point.count, sum=point.sum, min=point.min, max=point.max)
    else:
        row["value"] = point.value
    return row


def _plain(attributes: Attributes) -> dict[str, Any]:
    return dict(attributes or {})


def _iso(nanoseconds: int | None) -> str | None:
    if nanoseconds is None:
        return None
    return datetime.fromtimestamp(nanoseconds / 1e9, UTC).isoformat()
