"""The words of a storage failure for an app with an identity (as in Azure), which Azurite cannot
show: a token that cannot be had names the credential settings, for GET /api/health and for a
job alike; a write refused names the step and the role; and a probe message whose delete failed
is let go by the queue trigger."""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from shared.completion import complete_job
from shared.config import Settings
from shared.health import _storage
from shared.misconfig import storage_problem
from shared.probes import PROBE_PARTITION, Failed
from tests.fakes import make_deps

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
IDENTITY = Settings.from_env(
    {
        "AzureWebJobsStorage__accountName": "acct",
        "AzureWebJobsStorage__clientId": CLIENT_ID,
        "AZURE_OPENAI_ENDPOINT": "http://x",
    }
)
CHAIN = (
    "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
    "Attempted credentials:\n"
    "\tEnvironmentCredential: EnvironmentCredential authentication unavailable.\n"
    "\tManagedIdentityCredential: Identity not found\n"
)


def refused(status: int, code: str) -> HttpResponseError:
    class Request:
        url = "https://acct.queue.core.windows.net/done"

    class Response:
        request = Request()
        status_code = status
        reason = "Forbidden"
        headers: dict[str, Any] = {"x-ms-error-code": code}

        def text(self) -> str:
            return ""

    error = HttpResponseError("refused", response=Response())
    error.error_code = code
    return error


def test_a_storage_token_failure_names_the_credential_setting_for_a_job():
    problem = storage_problem(ClientAuthenticationError(CHAIN), IDENTITY)
    assert problem is not None and problem.setting == "AzureWebJobsStorage__clientId"
    assert (
        CLIENT_ID in problem.detail
        and "ManagedIdentityCredential: Identity not found" in problem.detail
    )
    assert "access denied" not in problem.detail  # nothing reached storage
    assert "AzureWebJobsStorage__credential" in problem.fix and "Data Contributor" in problem.fix


def test_a_storage_token_failure_during_a_probe_is_named_in_health():
    def probe() -> str:
        raise Failed("listing blobs", ClientAuthenticationError(CHAIN))

    check = _storage(IDENTITY, "blob", "in", "BATCH_INPUT_CONTAINER", probe)
    assert not check.ok and check.detail.startswith("no Entra ID token for storage")
    assert "AzureWebJobsStorage__clientId" in check.fix


def test_a_refused_queue_write_names_the_step_and_the_role():
    def probe() -> str:
        raise Failed("sending a message", refused(403, "AuthorizationPermissionMismatch"))

    check = _storage(IDENTITY, "queue", "done", "BATCH_COMPLETION_QUEUE", probe)
    assert not check.ok
    assert (
        check.detail
        == "access denied: 403 AuthorizationPermissionMismatch, while sending a message"
    )
    assert "Storage Queue Data Contributor" in check.fix
    assert "AzureWebJobsStorage__clientId" in check.fix


def test_a_probe_message_left_in_the_queue_is_let_go():
    # The probe's message names no job: if its delete failed, the trigger finds nothing to do
    # (and raises nothing, so it never lands in the poison queue).
    assert complete_job(make_deps(), f"{PROBE_PARTITION}-probe-0123") is None
