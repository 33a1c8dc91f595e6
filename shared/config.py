"""Settings.from_env(): the only place that reads the environment."""

from __future__ import annotations

import json
import math
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
    "BATCH_MAX_FILE_REQUESTS": "2000000",
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
    "BATCH_CONFIG_WAIT_HOURS": "168",
    "BATCH_CLOCK_SKEW_SECONDS": "60",
    "BATCH_MAX_STEP_FAILURES": "5",
    # Cost estimates: a JSON price table per model over the examples in shared/costs.py.
    "BATCH_PRICES": "",
    # Telemetry (shared/telemetry/setup.py). The connection string and the worker switch are
    # read by the Functions Python worker too; the app reads them to know who exports.
    "APPLICATIONINSIGHTS_CONNECTION_STRING": None,
    "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": None,
    "BATCHDROP_TELEMETRY_FILE": None,
    "BATCH_SETTLE_SECONDS": "5",
    "BATCH_DUPLICATE_HOURS": "24",
}

# Settings that only make sense locally and must not be set in Azure (a key; a local file).
LOCAL_ONLY = frozenset({"AZURE_OPENAI_API_KEY", "BATCHDROP_TELEMETRY_FILE"})

# What a user may paste as AZURE_OPENAI_ENDPOINT after the resource's address: the portal and
# the samples show it with /openai/v1/ (the v1 base URL) or /openai/; the clients add those.
ENDPOINT_SUFFIXES = ("/openai/v1", "/openai")

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
    max_file_requests: int  # requests one input file may hold; bounds intake's and merge's memory
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
    config_wait_hours: float  # a job waits this long for a wrong setting to be fixed, then fails
    clock_skew_seconds: float  # how far apart workers' clocks may be
    max_step_failures: int  # a step failing this often in a row fails the job
    prices: Mapping[str, Mapping[str, float]]  # model -> price per 1M tokens, over the examples
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
            openai_endpoint=_endpoint(_required(get, "AZURE_OPENAI_ENDPOINT")),
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
            max_file_requests=_positive_int(get, "BATCH_MAX_FILE_REQUESTS"),
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
            config_wait_hours=_positive_number(get, "BATCH_CONFIG_WAIT_HOURS"),
            clock_skew_seconds=_number(get, "BATCH_CLOCK_SKEW_SECONDS"),
            max_step_failures=_positive_int(get, "BATCH_MAX_STEP_FAILURES"),
            prices=_prices(get("BATCH_PRICES")),
            settle_seconds=_number(get, "BATCH_SETTLE_SECONDS"),
            duplicate_hours=_number(get, "BATCH_DUPLICATE_HOURS"),
        )


@dataclass(frozen=True)
class TelemetrySettings:
    """What shared/telemetry needs, readable even when the app's other settings are broken."""

    file: str | None  # local JSON lines ("-": the console); None: no local export
    connection_string: bool  # Application Insights is configured
    worker_exports: bool  # the Functions Python worker runs the Azure Monitor distro itself

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TelemetrySettings:
        env = os.environ if env is None else env
        flag = env.get("PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY", "").strip().lower()
        return cls(
            file=env.get("BATCHDROP_TELEMETRY_FILE", "").strip() or None,
            connection_string=bool(env.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "").strip()),
            worker_exports=flag in ("true", "1"),
        )


def _endpoint(raw: str) -> str:
    """The resource's address, however much of the API path was pasted after it."""
    url = raw.strip().rstrip("/")
    for suffix in ENDPOINT_SUFFIXES:
        if url.lower().endswith(suffix):
            url = url[: -len(suffix)].rstrip("/")
            break
    scheme, _, host = url.partition("://")
    if scheme.lower() not in ("http", "https") or not host:
        raise SettingsError(
            f"Setting AZURE_OPENAI_ENDPOINT={raw!r} must be the resource's address, "
            "e.g. https://myresource.openai.azure.com"
        )
    return url


PRICE_KEYS = ("input", "output", "batch_input", "batch_output")


def _prices(raw: str | None) -> dict[str, dict[str, float]]:
    """BATCH_PRICES: {"model": {"input", "output", "batch_input", "batch_output"}} per 1M tokens."""
    if not raw:
        return {}
    try:
        table = json.loads(raw)
    except ValueError:
        raise SettingsError(f"Setting BATCH_PRICES is not valid JSON: {raw[:200]!r}") from None
    if not isinstance(table, dict):
        raise SettingsError("Setting BATCH_PRICES must be a JSON object of models.")
    return {str(model): _price(model, entry) for model, entry in table.items()}


def _price(model: str, entry: object) -> dict[str, float]:
    if isinstance(entry, dict) and set(entry) == set(PRICE_KEYS):
        values = {k: _non_negative(entry[k]) for k in PRICE_KEYS}
        if all(v is not None for v in values.values()):
            return {k: float(v or 0) for k, v in values.items()}
    raise SettingsError(
        f"Setting BATCH_PRICES: {model!r} needs exactly {', '.join(PRICE_KEYS)}, "
        "each a price in USD per 1M tokens (a number, zero or more)."
    )


def _non_negative(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) and value >= 0 else None
    return None


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
