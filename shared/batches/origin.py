"""A part made at another resource than AZURE_OPENAI_ENDPOINT names now, when its job is stopped
(a person's cancel, a newer upload): the job's message says "if that resource is gone for good,
cancel the job", so the cancel asks the part's own endpoint (`part.endpoint`) with the app's
credentials whether it still exists. A name that no longer resolves or connects, or a 404 for
the batch (or file) while the endpoint answers a list call, means the batch went with its
resource: the part is closed, nothing is left to cancel or collect. A 401/403 there (another
key, no role) keeps the job waiting and says so. A resource that answers and knows the batch
is never cancelled through this side door: the setting is the operator's word on which
resource the app uses, so the job waits for it as before (batches/stop.py)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

import openai

from shared.batches.access import DENIED
from shared.batches.azure_openai import make_client
from shared.misconfig import Misconfigured

if TYPE_CHECKING:
    from shared.deps import Deps
    from shared.jobs.part import Part

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 10.0  # a resource that is gone answers at once: its name is released


def gone_with_resource(deps: Deps, part: Part) -> Part | None:
    """The part closed when its own resource is gone for good; None when the resource may
    still hold its batch (or cannot tell now). Misconfigured when it refuses the app's
    credentials."""
    if not part.endpoint or not (part.batch_id or part.file_id):
        return None
    settings = replace(deps.settings, openai_endpoint=part.endpoint.rstrip("/"))
    client = make_client(settings).with_options(timeout=PROBE_TIMEOUT_SECONDS, max_retries=0)
    return _closed(part) if _gone(client, part) else None


def _gone(client: openai.OpenAI, part: Part) -> bool:
    try:
        if part.batch_id:
            client.batches.retrieve(part.batch_id)
        else:
            client.files.retrieve(part.file_id or "")
    except openai.APITimeoutError:
        return False  # slow, not gone: asked again next tick
    except openai.APIConnectionError as exc:
        log.warning("%s does not resolve or connect (%s)", part.endpoint, type(exc).__name__)
        return True
    except openai.NotFoundError:
        return _answers(client)  # a 404 for everything is not the service's word on the batch
    except DENIED as exc:
        raise _refused(part, exc.status_code) from exc
    except openai.APIError:
        return False  # a 5xx or the like: asked again next tick
    return False  # it answers and knows it: the batch may run there


def _answers(client: openai.OpenAI) -> bool:
    try:
        client.batches.list(limit=1)
    except openai.APIError:
        return False
    return True


def _refused(part: Part, status: int) -> Misconfigured:
    return Misconfigured(
        "AZURE_OPENAI_ENDPOINT",
        f"this job's batches run at {part.endpoint}, which answers {status} to this app's "
        "credentials, so the cancel cannot reach them",
        f"set AZURE_OPENAI_ENDPOINT back to {part.endpoint} (with its key or role) so the "
        "cancel is sent; once that resource is deleted, the cancel closes the job by itself",
    )


def _closed(part: Part) -> Part:
    """Nothing to cancel, collect or delete: its files went with the resource."""
    what = f"batch {part.batch_id}" if part.batch_id else f"file {part.file_id}"
    log.warning("%s went with its resource %s; part %d closed", what, part.endpoint, part.index)
    error = {
        "code": "resource_gone",
        "message": f"{part.endpoint} no longer exists or no longer knows {what}.",
    }
    return replace(
        part,
        remote_status="cancelled",
        errors=(error,),
        file_id=None,
        output_file_id=None,
        error_file_id=None,
        creating=False,
        uploading=None,
        collected=True,
        wait_until=None,
    )
