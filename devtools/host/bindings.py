"""What the Functions host does with a binding before the runtime sees it: %SETTING%
expansion, the connection's settings, the timer's NCRONTAB schedule and the queue options
of host.json. Each check fails with the message Azure gives, plus what to change."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from croniter import croniter

SETTING = re.compile(r"%([^%]+)%")
DEFAULT_CONNECTION = "AzureWebJobsStorage"
# Identity-based connections are settings that share the connection's name as a prefix.
IDENTITY_SUFFIXES = ("__accountName", "__blobServiceUri", "__queueServiceUri", "__serviceUri")


class BindingError(ValueError):
    """A binding the host cannot set up: in Azure the function would not start."""


def resolve(expression: str, env: Mapping[str, str] | None = None) -> str:
    """Expand every %NAME% from the app settings, as the host does before it binds."""
    env = os.environ if env is None else env

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = env.get(name)
        if not found:
            raise BindingError(
                f"'%{name}%' does not resolve to a value: set the app setting {name} "
                "(environment or local.settings.json Values; in Azure, an app setting)"
            )
        return found

    return SETTING.sub(value, expression)


def connection_name(binding: Mapping[str, Any]) -> str:
    return str(binding.get("connection") or DEFAULT_CONNECTION)


def check_connection(name: str, env: Mapping[str, str] | None = None) -> None:
    """A storage connection is a setting holding a connection string, or settings named
    `<name>__accountName` / `__blobServiceUri` / `__queueServiceUri` for an identity."""
    env = os.environ if env is None else env
    if env.get(name) or any(env.get(name + suffix) for suffix in IDENTITY_SUFFIXES):
        return
    raise BindingError(
        f"Storage account connection string '{name}' does not exist. Make sure that it is a "
        f"defined App Setting: set {name} to a connection string, or {name}__accountName "
        "(with an identity) for an identity-based connection"
    )


def schedule(expression: str) -> str:
    """Validate a timer schedule: NCRONTAB, six fields, seconds first."""
    fields = expression.split()
    if len(fields) != 6 or not croniter.is_valid(expression, second_at_beginning=True):
        raise BindingError(
            f"The schedule expression '{expression}' was not recognized as a valid cron "
            "expression: use NCRONTAB with six fields, "
            "'{second} {minute} {hour} {day} {month} {day-of-week}', e.g. '0 */5 * * * *'"
        )
    return expression


def next_occurrences(expression: str, start: datetime, count: int = 1) -> list[datetime]:
    found = croniter(schedule(expression), start, second_at_beginning=True)
    return [found.get_next(datetime) for _ in range(count)]


@dataclass(frozen=True)
class QueueOptions:
    """host.json `extensions.queues` as the host applies it (with the host's defaults)."""

    max_dequeue_count: int = 5
    visibility_timeout: float = 0.0
    base64: bool = True


@dataclass(frozen=True)
class HostConfig:
    queues: QueueOptions
    route_prefix: str = "api"

    @classmethod
    def read(cls, app_dir: Path) -> HostConfig:
        path = app_dir / "host.json"
        raw = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        extensions = raw.get("extensions", {})
        queues = extensions.get("queues", {})
        options = QueueOptions(
            max_dequeue_count=int(queues.get("maxDequeueCount", 5)),
            visibility_timeout=_timespan(queues.get("visibilityTimeout", "00:00:00")),
            base64=str(queues.get("messageEncoding", "base64")).lower() == "base64",
        )
        prefix = str(extensions.get("http", {}).get("routePrefix", "api"))
        return cls(queues=options, route_prefix=prefix.strip("/"))


def _timespan(value: str) -> float:
    """host.json's hh:mm:ss."""
    hours, minutes, seconds = (float(part) for part in str(value).split(":"))
    return hours * 3600 + minutes * 60 + seconds
