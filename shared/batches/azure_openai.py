"""BatchService over the openai SDK: the v1 or dated API, a key or Entra ID; creates never retried
blindly (the SDK sends no idempotency key), reads with the SDK's back-off."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import tenacity

from shared.batches.access import Access, guarded
from shared.batches.service import (
    CREATE_TRIES,
    FileLimitReached,
    QuotaExceeded,
    RateLimited,
    Refused,
    RemoteBatch,
    RemoteFile,
    epoch,
    parse_batch,
)
from shared.config import Settings
from shared.jobs.part import normalise_remote_status
from shared.misconfig import Misconfigured

log = logging.getLogger(__name__)

SCOPE = "https://cognitiveservices.azure.com/.default"
READ_RETRIES = 3  # the SDK's own backoff, for calls that are safe to repeat
SCAN_LIMIT = 2000  # how many recent batches to look through for an earlier attempt's batch

# An answer that may have been lost after the service acted: the SDK sends no idempotency key,
# so repeating the call could create a second file or batch; look for the first one instead
# (docs/reliability.md, F3).
AMBIGUOUS = (openai.APITimeoutError, openai.APIConnectionError, openai.InternalServerError)
# Uploads expire after 14 days (the shortest Azure allows): a file whose job is lost somehow
# still cannot fill the resource's file quota for ever, and the quota rises from 500 to 10,000.
EXPIRES_AFTER = {"anchor": "created_at", "seconds": 14 * 24 * 3600}
FIRST_DATED_VERSION_WITH_EXPIRY = "2025-04-01-preview"


# Refusals of what was sent. 401 and 403 are never about the file (a key or a role is wrong),
# and a 404 only when the endpoint itself works (shared/batches/access.py).
PERMANENT = (openai.BadRequestError, openai.UnprocessableEntityError)


def _error(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    return error if isinstance(error, dict) else {}


def _message(exc: openai.APIStatusError) -> str:
    return str(_error(exc).get("message") or exc.message)[:1000]


def _file_limit(exc: openai.BadRequestError) -> bool:
    text = _message(exc).lower()
    return _code(exc) == "quotaExceeded" or ("batch files" in text and "limit" in text)


def _retry_after(exc: openai.RateLimitError) -> float:
    header = exc.response.headers.get("retry-after")
    try:
        return min(float(header), 60.0) if header else 0.0
    except ValueError:
        return 0.0


def _wait(state: tenacity.RetryCallState) -> float:
    """Honour Retry-After when the service sends one; exponential back-off otherwise."""
    exc = state.outcome.exception() if state.outcome else None
    return exc.retry_after if isinstance(exc, RateLimited) and exc.retry_after else backoff(state)


backoff = tenacity.wait_exponential_jitter(initial=1, max=20)

# An upload's 429 is repeated here (the service did nothing); a create's by submit.py, which
# records each try. An ambiguous failure is never repeated: the next attempt looks it up first.
retry_upload = tenacity.retry(
    retry=tenacity.retry_if_exception_type(RateLimited),
    wait=_wait,
    stop=tenacity.stop_after_attempt(CREATE_TRIES),
    reraise=True,
)


def make_client(settings: Settings) -> openai.OpenAI:
    """v1 API unless a dated api-version is set; an API key if set, otherwise Entra ID."""
    if settings.openai_api_version:
        return _dated_client(settings)
    if settings.openai_api_key:
        key: Any = settings.openai_api_key
        headers = {"api-key": settings.openai_api_key}
    else:
        key, headers = _token_provider(), {}
    return openai.OpenAI(  # the v1 API
        base_url=f"{settings.openai_endpoint}/openai/v1/",
        api_key=key,
        default_headers=headers,
        max_retries=0,
        timeout=settings.openai_timeout_seconds,
    )


def _dated_client(settings: Settings) -> openai.OpenAI:
    common: dict[str, Any] = {
        "azure_endpoint": settings.openai_endpoint,
        "api_version": settings.openai_api_version,
        "max_retries": 0,
        "timeout": settings.openai_timeout_seconds,
    }
    if settings.openai_api_key:
        return openai.AzureOpenAI(api_key=settings.openai_api_key, **common)
    return openai.AzureOpenAI(azure_ad_token_provider=_token_provider(), **common)


def _token_provider() -> Any:
    from azure.identity import DefaultAzureCredential, get_bearer_token_provider

    return get_bearer_token_provider(DefaultAzureCredential(), SCOPE)


class OpenAIBatchService:
    """BatchService over the openai SDK: creates never retried blindly, reads with back-off; a
    wrong setting raises Misconfigured (shared/misconfig.py), never a refusal of the file."""

    def __init__(
        self,
        client: openai.OpenAI,
        api_version: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.create_client = client.with_options(max_retries=0)
        self.read_client = client.with_options(max_retries=READ_RETRIES)
        self.access = Access(client, settings)
        self.expiry: Any = (
            EXPIRES_AFTER
            if api_version is None or api_version >= FIRST_DATED_VERSION_WITH_EXPIRY
            else openai.omit
        )

    @guarded
    @retry_upload
    def upload(self, filename: str, path: Path) -> RemoteFile:
        def send() -> RemoteFile:
            with path.open("rb") as stream:
                return _file(
                    self.create_client.files.create(
                        file=(filename, stream, "application/jsonl"),
                        purpose="batch",
                        expires_after=self.expiry,
                    )
                )

        def limit(exc: openai.BadRequestError) -> Exception | None:
            return FileLimitReached(str(exc)) if _file_limit(exc) else None

        return _careful(send, limit, lambda: self.find_file(filename), self.access)

    @guarded
    def find_file(self, filename: str) -> RemoteFile | None:
        for item in self.read_client.files.list(purpose="batch"):
            if item.filename == filename:
                return _file(item)
        return None

    @guarded
    def get_file(self, file_id: str) -> RemoteFile | None:
        try:
            return _file(self.read_client.files.retrieve(file_id))
        except openai.NotFoundError as exc:
            self.access.check_not_found(exc)
            return None

    @guarded
    def create_batch(self, file_id: str, endpoint: str, metadata: dict[str, str]) -> RemoteBatch:
        def send() -> RemoteBatch:
            created = self.create_client.batches.create(
                input_file_id=file_id,
                endpoint=endpoint,  # type: ignore[arg-type]
                completion_window="24h",
                metadata=metadata,
                output_expires_after=self.expiry,
            )
            return parse_batch(created.to_dict(warnings=False))

        def quota(exc: openai.BadRequestError) -> Exception | None:
            return QuotaExceeded(str(exc)) if _code(exc) == "token_limit_exceeded" else None

        return _careful(send, quota, lambda: self.find_batch(metadata), self.access)

    @guarded
    def find_batch(self, metadata: dict[str, str], since: int | None = None) -> RemoteBatch | None:
        """The newest batch carrying `metadata`, read newest first back to `since` (epoch
        seconds: however many batches a busy resource made since), else SCAN_LIMIT of them."""
        wanted = set(metadata.items())
        for index, item in enumerate(self._recent_batches()):
            batch = parse_batch(item)
            if wanted <= set(batch.metadata):
                return batch
            created = epoch(item.get("created_at"))
            timed = since is not None and created is not None
            if (created or 0) < (since or 0) if timed else index >= SCAN_LIMIT:
                break
        return None

    def _recent_batches(self) -> Iterator[dict[str, Any]]:
        for item in self.read_client.batches.list(limit=100):
            yield item.to_dict(warnings=False)

    @guarded
    def get_batch(self, batch_id: str) -> RemoteBatch | None:
        """None when the batch is gone, which fails its part: only once the endpoint answers."""
        try:
            return parse_batch(self.read_client.batches.retrieve(batch_id).to_dict(warnings=False))
        except openai.NotFoundError as exc:
            self.access.check_not_found(exc)
            return None

    @guarded
    def cancel_batch(self, batch_id: str) -> None:
        try:
            self.read_client.batches.cancel(batch_id)
        except openai.ConflictError:
            log.info("batch %s already ending; nothing to cancel", batch_id)
        except openai.NotFoundError as exc:
            self.access.check_not_found(exc, trust=True)
            log.info("batch %s is gone; nothing to cancel", batch_id)

    @guarded
    def download(self, file_id: str, dest: Path) -> None:
        # Streams to disk: output files reach hundreds of MB (files.content buffers it all).
        with self.read_client.files.with_streaming_response.content(file_id) as response:
            with dest.open("wb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)

    @guarded
    def delete_file(self, file_id: str) -> None:
        try:
            self.read_client.files.delete(file_id)
        except openai.NotFoundError as exc:
            self.access.check_not_found(exc, trust=True)
            # Usual: the clean-up deletes again what an earlier step already deleted.
            log.debug("file %s already gone", file_id)


def _careful[T](
    send: Callable[[], T],
    waiting: Callable[[openai.BadRequestError], Exception | None],
    lookup: Callable[[], T | None],
    access: Access,
) -> T:
    """A create: a 400 is a reason to wait (quota) or a refusal; a 422, and a 404 on an endpoint
    that works, are refusals (401 and 403 are wrong settings: see `guarded`); an answer lost
    after the service may have acted is looked up, never blindly repeated."""
    try:
        return send()
    except openai.RateLimitError as exc:
        raise RateLimited(_retry_after(exc)) from exc  # nothing done: safe to send again
    except openai.BadRequestError as exc:
        raise (waiting(exc) or refused(exc)) from exc
    except PERMANENT as exc:
        raise refused(exc) from exc
    except openai.NotFoundError as exc:
        access.check_not_found(exc)
        raise refused(exc) from exc
    except AMBIGUOUS as lost:
        try:
            found = lookup()
        except Misconfigured as failed:
            # The look-up refused (401, 403) is no answer to the create: it may still land.
            raise lost from failed
        if found is None:
            raise
        return found


def refused(exc: openai.APIStatusError) -> Refused:
    code = _code(exc) or f"http_{exc.status_code}"
    return Refused({"code": code, "message": _message(exc), "status_code": exc.status_code})


def _code(exc: openai.APIStatusError) -> str | None:
    code = _error(exc).get("code")
    return code if isinstance(code, str) else getattr(exc, "code", None)


def _file(item: Any) -> RemoteFile:
    return RemoteFile(
        id=item.id,
        status=normalise_remote_status(getattr(item, "status", None)),
        filename=getattr(item, "filename", "") or "",
        details=str(getattr(item, "status_details", "") or ""),
    )
