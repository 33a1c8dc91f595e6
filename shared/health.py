"""Entry of GET /api/health: can the app work? Checked with its own identity: every setting,
that it gets a storage token, reads its containers, queue and table and writes what it writes
(shared/probes.py: each write undone at once), and that Azure OpenAI lets it list batches and
upload and delete a batch file. One line per check, naming the step that failed and what to
fix; 200 when all pass, 503 otherwise."""

from __future__ import annotations

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

from shared import probes
from shared.batches.azure_openai import make_client
from shared.config import Settings, SettingsError
from shared.misconfig import (
    Misconfigured,
    no_token,
    openai_fix,
    storage_fix,
    storage_token_problem,
)
from shared.storage import clients

OPENAI_TIMEOUT = 30.0  # seconds: the post-deploy hook waits 120 for the whole answer


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
    targets: list[tuple[str, str, str, Callable[[], str]]] = [
        ("blob", settings.input_container, "BATCH_INPUT_CONTAINER",
         partial(probes.blob, service, settings.input_container, False)),
        ("blob", settings.output_container, "BATCH_OUTPUT_CONTAINER",
         partial(probes.blob, service, settings.output_container, True)),
        ("blob", settings.work_container, "BATCH_WORK_CONTAINER",
         partial(probes.blob, service, settings.work_container, True)),
        ("queue", settings.completion_queue, "BATCH_COMPLETION_QUEUE",
         partial(probes.queue, queue)),
        ("table", settings.jobs_table, "BATCH_JOBS_TABLE", partial(probes.table, table)),
    ]  # fmt: skip
    no_token = _storage_token(settings)
    if no_token is not None:  # every probe would fail the same way, each after a retry
        return [
            Check(f"{kind}:{name}", False, no_token.detail, no_token.fix)
            for kind, name, _, _ in targets
        ]
    return [_storage(settings, *target) for target in targets]


def _storage_token(settings: Settings) -> Misconfigured | None:
    """With an identity (Azure), can it get a storage token at all? None when it can, or with
    a connection string."""
    credential = clients.storage_credential(settings.storage)
    if credential is None:
        return None
    try:
        credential.get_token(clients.STORAGE_SCOPE)
    except ClientAuthenticationError as exc:
        return storage_token_problem(exc, settings)
    return None


def _storage(
    settings: Settings, kind: str, name: str, setting: str, probe: Callable[[], str]
) -> Check:
    label = f"{kind}:{name}"
    try:
        return Check(label, True, probe())
    except probes.Failed as failed:
        return _storage_failure(settings, label, kind, name, setting, failed)


def _storage_failure(
    settings: Settings, label: str, kind: str, name: str, setting: str, failed: probes.Failed
) -> Check:
    exc, while_ = failed.cause, f", while {failed.step}"
    if isinstance(exc, ResourceNotFoundError):
        return Check(
            label,
            False,
            f"the {kind} {name!r} named by {setting} does not exist",
            f"set {setting} to an existing {kind}, or create {name!r} (azd provision does)",
        )
    if isinstance(exc, ClientAuthenticationError) and exc.response is None:
        problem = storage_token_problem(exc, settings)  # no token: nothing reached storage
        return Check(label, False, problem.detail, problem.fix)
    if isinstance(exc, HttpResponseError) and exc.status_code in (401, 403):
        return Check(
            label, False, f"access denied: {_brief(exc)}{while_}", storage_fix(settings, kind)
        )
    if isinstance(exc, ServiceRequestError):
        return Check(
            label,
            False,
            f"cannot reach the {kind} service: {_brief(exc)}{while_}",
            "check AzureWebJobsStorage (__accountName or __<service>ServiceUri in Azure)",
        )
    return Check(label, False, f"{_brief(exc)}{while_}", f"check {setting} and AzureWebJobsStorage")


# --- Azure OpenAI -------------------------------------------------------------------------


def openai_check(settings: Settings) -> Check:
    name = "azure_openai"
    try:
        client = make_client(settings).with_options(
            max_retries=0, timeout=min(settings.openai_timeout_seconds, OPENAI_TIMEOUT)
        )
        return Check(name, True, probes.openai_access(client, settings))
    except probes.Failed as failed:
        return _openai_failure(settings, failed.cause, f", while {failed.step}")
    except ClientAuthenticationError as exc:  # building the client asks for no token yet
        return _openai_failure(settings, exc, "")


def _openai_failure(settings: Settings, exc: Exception, while_: str) -> Check:
    name = "azure_openai"
    if isinstance(exc, openai.APIStatusError):
        detail = f"{exc.status_code}: {_brief(exc)}{while_}"
        return Check(name, False, detail, _openai_fix(settings, exc))
    if isinstance(exc, openai.APIConnectionError | ServiceRequestError):
        return Check(
            name,
            False,
            f"cannot reach {settings.openai_endpoint}: {_brief(exc)}{while_}",
            "check AZURE_OPENAI_ENDPOINT and that the resource accepts this network",
        )
    if isinstance(exc, ClientAuthenticationError):
        problem = no_token(exc)
        return Check(name, False, f"{problem.detail}: {_brief(exc)}", problem.fix)
    return Check(name, False, f"{_brief(exc)}{while_}", "see the detail, then ask again")


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
