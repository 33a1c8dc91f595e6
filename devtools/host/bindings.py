"""What the Functions host does with a binding before the runtime sees it: %SETTING%
expansion, the connection's settings for each storage service the trigger uses, the timer's
NCRONTAB schedule and the queue options of host.json. Each check fails with the message Azure
gives, plus what to change."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from . import ncrontab

SETTING = re.compile(r"%([^%]+)%")
DEFAULT_CONNECTION = "AzureWebJobsStorage"
# The storage services each trigger's extension opens with its connection: the blob trigger
# also keeps its internal queue there (BlobTriggerAttributeBindingProvider gets a blob and a
# queue client for the connection).
SERVICES = {"blobTrigger": ("blob", "queue"), "queueTrigger": ("queue",)}
# TimerSchedule.Create also takes a TimeSpan ("00:05:00"), which Azure runs only on App
# Service plans; .NET TimeSpan.Parse forms: [-]d, [-][d.]hh:mm[:ss[.ff]].
TIMESPAN = re.compile(r"\s*-?(\d+|(\d+\.)?\d+:\d+(:\d+(\.\d+)?)?)\s*")


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


def check_connection(name: str, trigger_type: str, env: Mapping[str, str] | None = None) -> None:
    """The connection gives every storage service the trigger needs, as Azure reads it: a
    setting holding a connection string (`<name>`, or `AzureWebJobs<name>`), or settings
    sharing `<name>` as a prefix for an identity (Microsoft Learn, "identity-based
    connections" of the blob and queue extensions):

    - `__blobServiceUri` / `__queueServiceUri` name each service; a blob trigger with
      `__blobServiceUri` needs `__queueServiceUri` too;
    - `__serviceUri` alone is the blob service for a blob trigger (its queue is then the one
      of AzureWebJobsStorage) and the queue service for a queue trigger;
    - `__accountName` gives every service, for AzureWebJobsStorage only."""
    env = os.environ if env is None else env
    prefix = _section(name, env)
    if prefix is None:
        raise BindingError(
            f"Storage account connection string '{name}' does not exist. Make sure that it is "
            f"a defined App Setting: set {name} to a connection string, or "
            f"{_identity_settings(name, trigger_type)} for an identity-based connection"
        )
    if env.get(prefix):
        return  # a connection string: every service
    for service in SERVICES.get(trigger_type, ()):
        if not _serves(prefix, service, trigger_type, env):
            raise BindingError(
                f"The connection '{name}' has no {service} service for a {trigger_type}: set "
                f"{prefix}__{service}ServiceUri (https://<account>.{service}.core.windows.net)"
                + _account_name_hint(prefix, env)
            )


def _account_name_hint(prefix: str, env: Mapping[str, str]) -> str:
    if prefix == DEFAULT_CONNECTION:
        return f" or {prefix}__accountName"
    if env.get(f"{prefix}__accountName"):
        return f" ({prefix}__accountName is read for AzureWebJobsStorage only)"
    return ""


def _section(name: str, env: Mapping[str, str]) -> str | None:
    """The settings prefix Azure reads the connection from (AzureWebJobs<name> first)."""
    for prefix in (f"AzureWebJobs{name}", name):
        if env.get(prefix) or any(key.startswith(prefix + "__") and env[key] for key in env):
            return prefix
    return None


def _serves(prefix: str, service: str, trigger_type: str, env: Mapping[str, str]) -> bool:
    if env.get(f"{prefix}__{service}ServiceUri"):
        return True
    if prefix == DEFAULT_CONNECTION and env.get(f"{prefix}__accountName"):
        return True
    if not env.get(f"{prefix}__serviceUri"):
        return False
    if service == "blob" or trigger_type == "queueTrigger":
        return True
    # The blob trigger's queue, in the serviceUri form: host storage's queue service.
    host_queue = ("", "__queueServiceUri", "__accountName")
    return not env.get(f"{prefix}__blobServiceUri") and any(
        env.get(DEFAULT_CONNECTION + suffix) for suffix in host_queue
    )


def _identity_settings(name: str, trigger_type: str) -> str:
    uris = " and ".join(f"{name}__{s}ServiceUri" for s in SERVICES.get(trigger_type, ("blob",)))
    return f"{name}__accountName (or {uris})" if name == DEFAULT_CONNECTION else uris


def schedule(expression: str) -> str:
    """Validate a timer schedule as Azure's timer extension does (NCrontab, five or six
    fields); a TimeSpan is refused because Flex Consumption does not run it."""
    try:
        ncrontab.parse(expression)
    except ncrontab.CrontabError as exc:
        if TIMESPAN.fullmatch(expression):
            raise BindingError(
                f"The schedule expression '{expression}' is a TimeSpan, which Azure runs only "
                "on App Service plans, not on Flex Consumption: use NCRONTAB, e.g. "
                "'0 */5 * * * *'"
            ) from None
        raise BindingError(
            f"The schedule expression '{expression}' was not recognized as a valid cron "
            f"expression ({exc}): use NCRONTAB, six fields "
            "'{second} {minute} {hour} {day} {month} {day-of-week}' (e.g. '0 */5 * * * *') or "
            "five without the seconds; no L, W, ? or #, and day of week 0-6 (Sunday is 0)"
        ) from None
    return expression


def next_occurrences(expression: str, start: datetime, count: int = 1) -> list[datetime]:
    """The next `count` ticks after `start`; fewer (none) for a schedule that never occurs
    (a February 30th), which Azure accepts and never fires."""
    parsed = ncrontab.parse(schedule(expression))
    ticks: list[datetime] = []
    moment: datetime | None = start
    while len(ticks) < count and moment is not None:
        moment = parsed.next_after(moment)
        if moment is not None:
            ticks.append(moment)
    return ticks


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
