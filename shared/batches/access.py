"""Telling a wrong setting from a refusal of the file itself: Azure OpenAI's 401 and 403, and a
404 when the endpoint itself does not answer, become Misconfigured naming the setting (the job
waits); a 404 about one file or batch on an endpoint that works stays what it is (the file or
batch is gone, or the service refused it)."""

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
    from shared.config import Settings

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
