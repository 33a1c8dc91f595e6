"""Configuration errors: a wrong Azure OpenAI key or endpoint, a missing role, a missing
container or queue. Each names the setting to fix and what to do; it is nothing about a job's
file, so a job that meets one waits and resumes by itself once the setting is fixed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

if TYPE_CHECKING:
    from shared.config import Settings

OPENAI_ROLE = (
    "the batchdrop Azure OpenAI batch role (or Cognitive Services OpenAI Contributor, see "
    "BATCHDROP_CUSTOM_OPENAI_ROLE) on the Azure OpenAI resource"
)
STORAGE_ROLES = {
    "blob": "Storage Blob Data Contributor",
    "queue": "Storage Queue Data Contributor",
    "table": "Storage Table Data Contributor",
}
MAX_DETAIL = 300  # the service's words, kept short: they go into the job row and the logs
DENIED = frozenset({"AuthorizationFailure", "AuthorizationPermissionMismatch"})


class WorkLost(Exception):
    """A job's work files are gone from the container it wrote them to (emptied, or deleted
    and created again): no setting brings them back, so the job fails at once with `reason`
    rather than count unexpected failures (shared/storage/work.py)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Misconfigured(Exception):
    """A setting is wrong: `setting` names it, `detail` is what the service said, `fix` what
    to do."""

    def __init__(self, setting: str, detail: str, fix: str) -> None:
        super().__init__(f"{setting}: {detail}")
        self.setting, self.detail, self.fix = setting, detail[:MAX_DETAIL], fix

    @property
    def reason(self) -> str:
        """The job's last_error while it waits."""
        return (
            f"Configuration error, {self.setting}: {self.detail}. To fix: {self.fix}. The job "
            "waits and resumes by itself once this is fixed."
        )


def openai_fix(settings: Settings | None, status: int) -> tuple[str, str]:
    """(the setting, what to do) for Azure OpenAI answering 401, 403 or 404 to every call."""
    endpoint = settings.openai_endpoint if settings else "?"
    version = settings.openai_api_version if settings else None
    if status == 404:
        hint = (
            f"; AZURE_OPENAI_API_VERSION {version!r} must be one with batch (2024-10-21 or "
            "later), or unset it for the v1 API"
            if version
            else ""
        )
        fix = (
            "AZURE_OPENAI_ENDPOINT must be the resource's address, e.g. "
            f"https://<resource>.openai.azure.com (it is {endpoint}){hint}"
        )
        return ("AZURE_OPENAI_ENDPOINT" + (" or AZURE_OPENAI_API_VERSION" if version else ""), fix)
    if status == 401 and settings is not None and settings.openai_api_key:
        fix = "AZURE_OPENAI_API_KEY is not a key of this resource: fix it, or unset it for Entra ID"
        return "AZURE_OPENAI_API_KEY", fix
    fix = (
        f"give the app's identity (AZURE_CLIENT_ID) {OPENAI_ROLE}, and check that "
        "AZURE_OPENAI_ENDPOINT is that resource; new role assignments take minutes to apply"
    )
    return "the app identity's Azure OpenAI role", fix


def openai_problem(settings: Settings | None, status: int, detail: str) -> Misconfigured:
    setting, fix = openai_fix(settings, status)
    return Misconfigured(setting, f"Azure OpenAI answered {status}: {detail}", fix)


def no_token(exc: BaseException) -> Misconfigured:
    """Entra ID gave no token for Azure OpenAI (azure.identity's ClientAuthenticationError)."""
    return Misconfigured(
        "the app's identity (AZURE_CLIENT_ID)",
        f"no Entra ID token for Azure OpenAI ({type(exc).__name__})",
        "in Azure, AZURE_CLIENT_ID must be the app's user-assigned identity; locally run "
        "`az login` or set AZURE_OPENAI_API_KEY",
    )


def storage_problem(exc: BaseException, settings: Settings) -> Misconfigured | None:
    """A storage error that is a setting's fault: a container or queue that does not exist,
    or access refused to the app. None for anything else."""
    if not isinstance(exc, HttpResponseError):
        return None
    code = str(getattr(exc, "error_code", "") or "")
    if code == "ContainerNotFound":
        setting, name = _container(exc, settings)
        return Misconfigured(
            setting, f"the container {name!r} does not exist", _create(setting, name)
        )
    if code == "QueueNotFound":
        name = settings.completion_queue
        return Misconfigured(
            "BATCH_COMPLETION_QUEUE",
            f"the queue {name!r} does not exist",
            f"set BATCH_COMPLETION_QUEUE to an existing queue, or create {name!r}",
        )
    if isinstance(exc, ClientAuthenticationError) and exc.response is None:
        return storage_token_problem(exc, settings)  # no token: the request was never sent
    if code in DENIED or isinstance(exc, ClientAuthenticationError):
        kind = _service(exc)
        return Misconfigured(
            "AzureWebJobsStorage", f"access denied ({code})", storage_fix(settings, kind)
        )
    return None


def _create(setting: str, name: str) -> str:
    fix = f"set {setting} to an existing container, or create {name!r} (azd provision does)"
    if setting == "BATCH_WORK_CONTAINER":
        # Running jobs' work files are in the container they started with, not a new one.
        fix += "; jobs that were running wait until it names the container with their files"
    return fix


def storage_token_problem(exc: BaseException, settings: Settings) -> Misconfigured:
    """The app's identity got no token for storage (azure.identity's ClientAuthenticationError,
    raised before any request): the credential settings are wrong, not a role."""
    who = settings.storage.client_id
    identity = (
        f"the identity {who!r}" if who else "no identity (AzureWebJobsStorage__clientId unset)"
    )
    return Misconfigured(
        "AzureWebJobsStorage__clientId",
        f"no Entra ID token for storage with {identity}: {credential_failure(exc)}",
        "in Azure, set AzureWebJobsStorage__credential to managedidentity and "
        "AzureWebJobsStorage__clientId to the client id of the app's user-assigned identity, "
        "the one that holds Storage Blob, Queue and Table Data Contributor on the account; "
        "locally, run `az login` or set AzureWebJobsStorage to a connection string",
    )


def credential_failure(exc: BaseException) -> str:
    """What the credential said, short: its first line and, in a chain, the managed identity's
    line (the one that counts in Azure)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    managed = [line for line in lines[1:] if line.startswith("ManagedIdentityCredential")]
    return " ".join(lines[:1] + managed[:1])[:MAX_DETAIL]


def _container(exc: HttpResponseError, settings: Settings) -> tuple[str, str]:
    segments = [unquote(s) for s in urlparse(_url(exc)).path.split("/")]
    for setting, name in (
        ("BATCH_WORK_CONTAINER", settings.work_container),
        ("BATCH_OUTPUT_CONTAINER", settings.output_container),
        ("BATCH_INPUT_CONTAINER", settings.input_container),
    ):
        if name in segments:
            return setting, name
    return "BATCH_WORK_CONTAINER or BATCH_OUTPUT_CONTAINER", "?"


def _url(exc: HttpResponseError) -> str:
    request: Any = getattr(getattr(exc, "response", None), "request", None)
    return str(getattr(request, "url", "") or "")


def _service(exc: HttpResponseError) -> str:
    host = urlparse(_url(exc)).netloc
    return next((kind for kind in STORAGE_ROLES if f".{kind}." in host), "blob")


def storage_fix(settings: Settings, kind: str) -> str:
    if settings.storage.connection_string:
        return "check the account name and key in the AzureWebJobsStorage connection string"
    return (
        f"give the app's identity (AzureWebJobsStorage__clientId) {STORAGE_ROLES[kind]} on "
        "the storage account; new role assignments can take a few minutes to apply"
    )
