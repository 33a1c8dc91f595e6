"""Entry of GET /api/health: can the app work? Checked with its own identity: every setting,
blob / queue / table access to its containers, queue and table, and Azure OpenAI access (list
batches, limit 1). One line per check with what to fix; 200 when all pass, 503 otherwise."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import openai
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)

from shared.batches.azure_openai import make_client
from shared.config import Settings, SettingsError
from shared.misconfig import openai_fix, storage_fix
from shared.storage import clients

OPENAI_TIMEOUT = 30.0  # seconds: the post-deploy hook waits 120 for the whole answer
STORAGE_TRIES = {"retry_total": 1}  # a broken account should fail the check, not stall it
PROBE_PREFIX = "_health/"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def check_health(env: Mapping[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """The answer of GET /api/health: HTTP status and body."""
    checks = run_checks(env)
    ok = all(c.ok for c in checks)
    return (200 if ok else 503), {"ok": ok, "checks": [asdict(c) for c in checks]}


def run_checks(env: Mapping[str, str] | None = None) -> list[Check]:
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        fix = "set it in the app settings (local.settings.json locally), then restart the app"
        return [Check("settings", False, f"{exc} Storage and Azure OpenAI not checked.", fix)]
    return [settings_check(settings), *storage_checks(settings), openai_check(settings)]


def settings_check(settings: Settings) -> Check:
    own = {settings.output_container, settings.work_container}
    if settings.input_container in own:
        return Check(
            "settings",
            False,
            f"BATCH_INPUT_CONTAINER {settings.input_container!r} is also an output or work "
            "container: outputs would trigger new jobs",
            "give BATCH_OUTPUT_CONTAINER and BATCH_WORK_CONTAINER their own containers",
        )
    api = f"API version {settings.openai_api_version}" if settings.openai_api_version else "v1 API"
    auth = "an API key" if settings.openai_api_key else "Entra ID"
    return Check("settings", True, f"every setting is usable ({api}, {auth})")


# --- storage ------------------------------------------------------------------------------


def storage_checks(settings: Settings) -> list[Check]:
    service = clients.blob_service(settings.storage)
    queue = clients.queue_client(settings.storage, settings.completion_queue)
    table = clients.table_client(settings.storage, settings.jobs_table)
    probes: list[tuple[str, str, str, Callable[[], str]]] = [
        ("blob", settings.input_container, "BATCH_INPUT_CONTAINER",
         partial(_blob, service, settings.input_container, False)),
        ("blob", settings.output_container, "BATCH_OUTPUT_CONTAINER",
         partial(_blob, service, settings.output_container, False)),
        ("blob", settings.work_container, "BATCH_WORK_CONTAINER",
         partial(_blob, service, settings.work_container, True)),
        ("queue", settings.completion_queue, "BATCH_COMPLETION_QUEUE", partial(_queue, queue)),
        ("table", settings.jobs_table, "BATCH_JOBS_TABLE", partial(_table, table)),
    ]  # fmt: skip
    return [_storage(settings, *probe) for probe in probes]


def _blob(service: Any, name: str, write: bool) -> str:
    container = service.get_container_client(name)
    next(iter(container.list_blobs(results_per_page=1, **STORAGE_TRIES).by_page()), None)
    if not write:
        return "can list blobs"
    # The app writes and deletes its work files here; a probe proves both (never in the
    # input container, where a new blob would start a job).
    probe = container.get_blob_client(f"{PROBE_PREFIX}{uuid.uuid4().hex}")
    probe.upload_blob(b"", overwrite=True, **STORAGE_TRIES)
    probe.delete_blob(**STORAGE_TRIES)
    return "can list, write and delete blobs"


def _queue(queue: Any) -> str:
    count = queue.get_queue_properties(**STORAGE_TRIES).approximate_message_count
    return f"can read the queue ({count or 0} message(s) waiting)"


def _table(table: Any) -> str:
    next(iter(table.list_entities(results_per_page=1, **STORAGE_TRIES).by_page()), None)
    return "can read the table"


def _storage(
    settings: Settings, kind: str, name: str, setting: str, probe: Callable[[], str]
) -> Check:
    label = f"{kind}:{name}"
    try:
        return Check(label, True, probe())
    except ResourceNotFoundError:
        return Check(
            label,
            False,
            f"the {kind} {name!r} named by {setting} does not exist",
            f"set {setting} to an existing {kind}, or create {name!r} (azd provision does)",
        )
    except (ClientAuthenticationError, HttpResponseError) as exc:
        if exc.status_code not in (401, 403):
            return Check(label, False, _brief(exc), f"check {setting} and AzureWebJobsStorage")
        return Check(label, False, f"access denied: {_brief(exc)}", storage_fix(settings, kind))
    except ServiceRequestError as exc:
        return Check(
            label,
            False,
            f"cannot reach the {kind} service: {_brief(exc)}",
            "check AzureWebJobsStorage (__accountName or __<service>ServiceUri in Azure)",
        )


# --- Azure OpenAI -------------------------------------------------------------------------


def openai_check(settings: Settings) -> Check:
    name = "azure_openai"
    try:
        client = make_client(settings).with_options(
            max_retries=0, timeout=min(settings.openai_timeout_seconds, OPENAI_TIMEOUT)
        )
        page = client.batches.list(limit=1)
        seen = len(page.data)
    except openai.APIStatusError as exc:
        return Check(name, False, f"{exc.status_code}: {_brief(exc)}", _openai_fix(settings, exc))
    except (openai.APIConnectionError, ServiceRequestError) as exc:
        return Check(
            name,
            False,
            f"cannot reach {settings.openai_endpoint}: {_brief(exc)}",
            "check AZURE_OPENAI_ENDPOINT and that the resource accepts this network",
        )
    except ClientAuthenticationError as exc:
        return Check(
            name,
            False,
            f"no Entra ID token for Azure OpenAI: {_brief(exc)}",
            "in Azure, AZURE_CLIENT_ID must be the app's user-assigned identity; locally run "
            "`az login` or set AZURE_OPENAI_API_KEY",
        )
    return Check(name, True, f"can list batches at {settings.openai_endpoint} ({seen} seen)")


def _openai_fix(settings: Settings, exc: openai.APIStatusError) -> str:
    # The same words a job waiting for this setting shows (shared/misconfig.py).
    if exc.status_code in (401, 403, 404):
        return openai_fix(settings, exc.status_code)[1]
    return "see the detail; the service may be busy (ask again later)"


def _brief(exc: BaseException) -> str:
    """The service's own words, without anything that could carry a key (headers, URLs)."""
    if isinstance(exc, openai.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        text = " ".join(str(part) for part in (code, message or exc.message) if part)
    elif isinstance(exc, HttpResponseError):
        code = getattr(exc, "error_code", None) or exc.reason or ""
        text = f"{exc.status_code} {code}".strip()
    else:
        text = type(exc).__name__
    return text[:300]
