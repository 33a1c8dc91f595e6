"""Settings.from_env(): the only place that reads the environment."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# Every setting the app reads, with its default (None: required or optional without default).
# infra tests check that the function app defines each of these.
DEFAULTS: dict[str, str | None] = {
    "AZURE_OPENAI_ENDPOINT": None,
    "AZURE_OPENAI_API_VERSION": None,
    "AZURE_OPENAI_API_KEY": None,
    "AZURE_OPENAI_DEPLOYMENT": None,
    "BATCH_INPUT_CONTAINER": "batch-input",
    "BATCH_OUTPUT_CONTAINER": "batch-output",
    "BATCH_WORK_CONTAINER": "batch-work",
    "BATCH_JOBS_TABLE": "batchjobs",
    "BATCH_COMPLETION_QUEUE": "batch-completions",
    "POLL_SCHEDULE": "0 */1 * * * *",
    "BATCH_MAX_REQUESTS": "100000",
    "BATCH_MAX_BYTES": "200000000",
    "BATCH_MAX_ATTEMPTS": "3",
    "BATCH_ALLOWED_DEPLOYMENTS": "",
    "BATCH_FILE_WAIT_SECONDS": "20",
    "AZURE_OPENAI_TIMEOUT_SECONDS": "60",
    "BATCH_STATUS_MIN_SECONDS": "55",
    "BATCH_QUOTA_BACKOFF_SECONDS": "300",
    "BATCH_QUOTA_DEADLINE_HOURS": "24",
    "BATCH_FILE_DEADLINE_SECONDS": "1800",
    "BATCH_POLL_CONCURRENCY": "16",
    "BATCH_POLL_BUDGET_SECONDS": "240",
    "BATCH_MAX_TOKENS": "0",
    "BATCH_LEASE_SECONDS": "900",
    "BATCH_STUCK_HOURS": "48",
    "BATCH_SETTLE_SECONDS": "5",
    "BATCH_DUPLICATE_HOURS": "24",
}

# Settings that only make sense locally and must not be set in Azure (keys).
LOCAL_ONLY = frozenset({"AZURE_OPENAI_API_KEY"})

STORAGE = "AzureWebJobsStorage"
STORAGE_SERVICES = ("blob", "queue", "table")


Getter = Callable[[str], str | None]


class SettingsError(ValueError):
    """A required setting is missing or a value cannot be used."""


@dataclass(frozen=True)
class StorageSettings:
    """A connection string (local) or per-service URIs with a managed identity (Azure)."""

    connection_string: str | None = None
    service_uris: Mapping[str, str] = field(default_factory=dict)
    client_id: str | None = None


@dataclass(frozen=True)
class Settings:
    """Every setting, typed. Defaults live in DEFAULTS only: build this with from_env()."""

    storage: StorageSettings
    openai_endpoint: str
    openai_api_version: str | None
    openai_api_key: str | None
    default_deployment: str | None
    input_container: str
    output_container: str
    work_container: str
    jobs_table: str
    completion_queue: str
    poll_schedule: str
    max_requests: int
    max_bytes: int
    max_attempts: int
    allowed_deployments: frozenset[str]
    file_wait_seconds: float
    openai_timeout_seconds: float
    status_min_seconds: float
    quota_backoff_seconds: float
    quota_deadline_hours: float
    file_deadline_seconds: float
    poll_concurrency: int
    poll_budget_seconds: float
    max_tokens: int  # estimated input tokens per batch; 0: no limit
    lease_seconds: float
    stuck_hours: float
    settle_seconds: float  # a fresh input waits this long for a _job.json uploaded with it
    duplicate_hours: float  # identical content that completed this recently is not sent; 0: off

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or DEFAULTS[name]

        return cls(
            storage=_storage(env),
            openai_endpoint=_required(get, "AZURE_OPENAI_ENDPOINT").rstrip("/"),
            openai_api_version=get("AZURE_OPENAI_API_VERSION"),
            openai_api_key=get("AZURE_OPENAI_API_KEY"),
            default_deployment=get("AZURE_OPENAI_DEPLOYMENT"),
            input_container=_required(get, "BATCH_INPUT_CONTAINER"),
            output_container=_required(get, "BATCH_OUTPUT_CONTAINER"),
            work_container=_required(get, "BATCH_WORK_CONTAINER"),
            jobs_table=_required(get, "BATCH_JOBS_TABLE"),
            completion_queue=_required(get, "BATCH_COMPLETION_QUEUE"),
            poll_schedule=_required(get, "POLL_SCHEDULE"),
            max_requests=_positive_int(get, "BATCH_MAX_REQUESTS"),
            max_bytes=_positive_int(get, "BATCH_MAX_BYTES"),
            max_attempts=_positive_int(get, "BATCH_MAX_ATTEMPTS"),
            allowed_deployments=_name_set(get("BATCH_ALLOWED_DEPLOYMENTS")),
            file_wait_seconds=_number(get, "BATCH_FILE_WAIT_SECONDS"),
            openai_timeout_seconds=_positive_number(get, "AZURE_OPENAI_TIMEOUT_SECONDS"),
            status_min_seconds=_number(get, "BATCH_STATUS_MIN_SECONDS"),
            quota_backoff_seconds=_positive_number(get, "BATCH_QUOTA_BACKOFF_SECONDS"),
            quota_deadline_hours=_positive_number(get, "BATCH_QUOTA_DEADLINE_HOURS"),
            file_deadline_seconds=_positive_number(get, "BATCH_FILE_DEADLINE_SECONDS"),
            poll_concurrency=_positive_int(get, "BATCH_POLL_CONCURRENCY"),
            poll_budget_seconds=_positive_number(get, "BATCH_POLL_BUDGET_SECONDS"),
            max_tokens=int(_number(get, "BATCH_MAX_TOKENS")),
            lease_seconds=_positive_number(get, "BATCH_LEASE_SECONDS"),
            stuck_hours=_positive_number(get, "BATCH_STUCK_HOURS"),
            settle_seconds=_number(get, "BATCH_SETTLE_SECONDS"),
            duplicate_hours=_number(get, "BATCH_DUPLICATE_HOURS"),
        )


def _required(get: Getter, name: str) -> str:
    value = get(name)
    if not value:
        raise SettingsError(f"Missing setting {name}: set it in the app settings or environment.")
    return str(value)


def _positive_int(get: Getter, name: str) -> int:
    raw = _required(get, name)
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"Setting {name}={raw!r} must be a whole number.") from None
    if value < 1:
        raise SettingsError(f"Setting {name}={raw!r} must be at least 1.")
    return value


def _number(get: Getter, name: str) -> float:
    raw = _required(get, name)
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"Setting {name}={raw!r} must be a number.") from None
    if value < 0 or value != value:
        raise SettingsError(f"Setting {name}={raw!r} must be zero or more.")
    return value


def _positive_number(get: Getter, name: str) -> float:
    value = _number(get, name)
    if value <= 0:
        raise SettingsError(f"Setting {name}={value!r} must be more than zero.")
    return value


def _name_set(raw: str | None) -> frozenset[str]:
    return frozenset(part.strip() for part in (raw or "").split(",") if part.strip())


def _storage(env: Mapping[str, str]) -> StorageSettings:
    """Read AzureWebJobsStorage the way the Functions host does."""
    conn = env.get(STORAGE, "").strip()
    if conn:
        return StorageSettings(connection_string=conn)
    account = env.get(f"{STORAGE}__accountName", "").strip()
    uris = {}
    for service in STORAGE_SERVICES:
        uri = env.get(f"{STORAGE}__{service}ServiceUri", "").strip()
        if not uri and account:
            uri = f"https://{account}.{service}.core.windows.net"
        if uri:
            uris[service] = uri.rstrip("/")
    missing = [s for s in STORAGE_SERVICES if s not in uris]
    if missing:
        raise SettingsError(
            f"Missing setting {STORAGE}: set a connection string, or "
            f"{STORAGE}__accountName, or {STORAGE}__<service>ServiceUri for "
            + ", ".join(missing)
            + "."
        )
    client_id = env.get(f"{STORAGE}__clientId", "").strip() or None
    return StorageSettings(service_uris=uris, client_id=client_id)


def default_int(name: str) -> int:
    """A numeric setting's default, for code that has no Settings (pure readers, tests)."""
    return int(DEFAULTS[name] or 0)
