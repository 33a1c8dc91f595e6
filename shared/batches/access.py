"""Telling a wrong setting from a refusal of the file itself: Azure OpenAI's 401 and 403, a 404
when the endpoint itself does not answer, and a 404 for a batch or file made at another
endpoint than the one set now, become Misconfigured naming the setting (the job waits); a 404
about one file or batch on the endpoint that made it stays what it is (the file or batch is
gone, or the service refused it)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

import openai
from azure.core.exceptions import ClientAuthenticationError

from shared.misconfig import Misconfigured, no_token, openai_problem

if TYPE_CHECKING:
    from shared.batches.service import BatchService
    from shared.config import Settings
    from shared.jobs.part import Part

# After the endpoint answered, a 404 from a delete or a cancel ("already gone") is believed for
# this long without asking again; a 404 that would fail a job is always checked.
TRUST_SECONDS = 60.0
DENIED = (openai.AuthenticationError, openai.PermissionDeniedError)


class Access:
    """Checks, after a 404, whether the endpoint and credentials work at all (list batches,
    limit 1: the call GET /api/health makes too)."""

    def __init__(self, client: openai.OpenAI, settings: Settings | None) -> None:
        self.client = client.with_options(max_retries=0)
        self.settings = settings
        self.trusted_until = 0.0
        self.lock = threading.Lock()

    def problem(self, exc: openai.APIStatusError) -> Misconfigured:
        return openai_problem(self.settings, exc.status_code, _detail(exc))

    def check_not_found(self, exc: openai.NotFoundError, trust: bool = False) -> None:
        """Return when the 404 is about the object (the endpoint answers a list call); raise
        Misconfigured when the endpoint, version or credentials are wrong; re-raise the probe's
        own error (a timeout, a 5xx) when it cannot tell now: the step is tried again later."""
        if trust and time.monotonic() < self.trusted_until:
            return
        try:
            self.client.batches.list(limit=1)
        except (*DENIED, openai.NotFoundError) as probe:
            raise self.problem(probe) from exc
        except ClientAuthenticationError as probe:
            raise no_token(probe) from exc
        with self.lock:
            self.trusted_until = time.monotonic() + TRUST_SECONDS


def moved(part: Part, settings: Settings | None) -> bool:
    """The part's file and batch were made at another endpoint than the one set now."""
    if not part.endpoint or settings is None:
        return False  # recorded before endpoints were: a 404 is believed as before
    return part.endpoint.rstrip("/").lower() != settings.openai_endpoint.rstrip("/").lower()


def made_elsewhere(part: Part, settings: Settings | None) -> Misconfigured | None:
    """A 404 for a part made at another endpoint: AZURE_OPENAI_ENDPOINT names another resource
    (one that works, so its list call answers), not a batch that is gone. None when the part
    was made at this endpoint, where a 404 means the object is really gone."""
    if settings is None or not moved(part, settings):
        return None
    what = (
        f"batch {part.batch_id}"
        if part.batch_id
        else f"the file {part.file_id}"
        if part.file_id
        else "an upload"
    )
    return Misconfigured(
        "AZURE_OPENAI_ENDPOINT",
        f"{settings.openai_endpoint} answers 404 for {what} of this job, which was made at "
        f"{part.endpoint}",
        f"set AZURE_OPENAI_ENDPOINT back to {part.endpoint}, the resource that runs this job's "
        "batches (they go on there meanwhile and are collected once the job resumes); if that "
        "resource is gone for good, cancel the job and upload the file again",
    )


def check_same_resource(service: BatchService, part: Part, settings: Settings | None) -> None:
    """Before reading or deleting a part's files at an endpoint other than the one that made
    them (a custom domain for the same resource is fine): ask it for the part's batch (or
    file) first, and raise Misconfigured when it does not know it, rather than find its
    files "already gone" and leave them, or the answers, behind."""
    if not moved(part, settings):
        return
    if part.batch_id:
        known: object = service.get_batch(part.batch_id)
    elif part.file_id:
        known = service.get_file(part.file_id)
    elif part.uploading:
        known = None  # an upload whose answer was lost: only its own endpoint can find it
    else:
        return
    problem = made_elsewhere(part, settings) if known is None else None
    if problem is not None:
        raise problem


def guarded[**P, T](method: Callable[P, T]) -> Callable[P, T]:
    """A service call whose 401/403 (and a missing Entra ID token) mean a wrong setting, and
    whose unhandled 404 is checked against the endpoint first. For methods of an object with
    an `access` (an Access)."""

    @wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> T:
        owner: Any = args[0]
        try:
            return method(*args, **kwargs)
        except DENIED as exc:
            raise owner.access.problem(exc) from exc
        except ClientAuthenticationError as exc:
            raise no_token(exc) from exc
        except openai.NotFoundError as exc:
            owner.access.check_not_found(exc)
            raise

    return call


def _detail(exc: openai.APIStatusError) -> str:
    """The service's code and message: never headers or the URL (which could carry a key)."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if str(code) == str(exc.status_code):
        code = None  # Azure's gateway repeats the status as the code
    return " ".join(str(part) for part in (code, message or exc.message) if part)
