"""What a job's last_error says when it ends failed, expired or cancelled, while it waits for
quota and when it is stuck: the service's code and message, and what to do. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.jobs.model import Job, JobStatus
from shared.jobs.part import Part, PartPhase

UPLOAD_AGAIN = "then upload the file again"
REFUSED_CONTENT = (
    "the service refused the file's content: fix the lines summary.json `errors` names, "
    + UPLOAD_AGAIN
)
ADVICE = {
    "model_not_found": "the deployment named by body.model (or _job.json `deployment`, or "
    "AZURE_OPENAI_DEPLOYMENT) does not exist on the resource or is not a Global Batch "
    f"deployment: create it or fix the name, {UPLOAD_AGAIN}",
    "token_limit_exceeded": "raise the deployment's enqueued-token quota, or set "
    f"BATCH_MAX_TOKENS under it so that big files are split, {UPLOAD_AGAIN}",
    "file_limit_reached": f"delete unused files from the Azure OpenAI resource, {UPLOAD_AGAIN}",
    "batch_not_found": "the batch was deleted at the service by someone or something else; "
    "upload the file again",
    "file_error": "upload the file again; if it happens again, look at the file in the Azure "
    "OpenAI resource's batch view",
    **dict.fromkeys(
        ("invalid_json_line", "invalid_request", "duplicate_custom_id", "url_mismatch",
         "model_mismatch", "empty_file", "too_many_tasks"),
        REFUSED_CONTENT,
    ),
}  # fmt: skip
# Codes about what a request says: their messages may quote it.
CONTENT_CODES = frozenset(code for code, text in ADVICE.items() if text == REFUSED_CONTENT)
DEFAULT_ADVICE = f"summary.json `errors` lists every reason; fix the cause, {UPLOAD_AGAIN}"
WHILE_WAITING = {
    "token_limit_exceeded": "raise the deployment's enqueued-token quota (Azure AI Foundry, "
    "the deployment's settings), or let other jobs on it finish",
    "file_limit_reached": "delete unused files from the Azure OpenAI resource",
}
MAX_MESSAGE = 500
LISTED = 3  # batches described in a stuck job's reason


def advice(code: str) -> str:
    return ADVICE.get(code, DEFAULT_ADVICE)


def final_reason(job: Job, status: JobStatus) -> str:
    """last_error of a job reaching `status` after its merge ("" when nothing went wrong)."""
    if status == JobStatus.FAILED:
        return failure_reason(job)
    if status == JobStatus.EXPIRED:
        return (
            f"expired: {job.failed} request(s) were still unanswered after every try "
            "(BATCH_MAX_ATTEMPTS) because their batches expired (Azure runs a batch within "
            "24 h). errors.jsonl lists them; upload those again, or split the file."
        )
    if status == JobStatus.COMPLETED and job.stop is not None:
        return (
            f"completed: the cancel ({job.stop.detail.rstrip('. ')}) came after every batch had "
            "ended, with every request answered; nothing was stopped, and the results are whole."
        )
    if status == JobStatus.CANCELLED:
        detail = job.stop.detail if job.stop else "a batch was cancelled at the service"
        return f"cancelled: {detail}. The answers that had arrived are kept."
    return ""


def failure_reason(job: Job) -> str:
    """The first refused batch's code and message, and what to do."""
    refused = [p for p in job.parts if p.remote_status == "failed"]
    if not refused:
        return f"failed. {DEFAULT_ADVICE}."
    part = refused[0]
    error = part.errors[0] if part.errors else {}
    code = str(error.get("code") or "batch_failed")
    others = f" ({len(refused) - 1} more batch(es) failed too)" if len(refused) > 1 else ""
    return f"{_name(part)} failed{others}: {_said(code, error)}. To fix: {advice(code)}."


def _said(code: str, error: dict[str, object]) -> str:
    """The service's code and message; for an error about the file's content (one of its
    lines, or a content code) the code and line only: such a message may quote the request,
    and LastError never carries input text (summary.json `errors` has the message)."""
    line = error.get("line")
    if isinstance(line, int) and not isinstance(line, bool):
        return f"{code} at line {line} of the batch file (summary.json `errors` says more)"
    if code in CONTENT_CODES:
        return f"{code} (summary.json `errors` says which line and why)"
    message = str(error.get("message") or "The service refused the batch")[:MAX_MESSAGE]
    return f"{code}: {message.rstrip('. ')}"


def waiting_reason(job: Job, now: float) -> str:
    """Which deployment waits for what, since when, the next try and the deadline."""
    waiting = [p for p in job.parts if p.phase(now) == PartPhase.WAITING]
    if not waiting:
        return ""
    part = waiting[0]
    # A part without its file waits for room to upload it (the resource's file limit); one
    # with its file, for the deployment's enqueued-token quota to create its batch.
    what = (
        f"the enqueued-token quota of deployment {part.deployment}"
        if part.file_id
        else "room for batch files at the Azure OpenAI resource (its file limit)"
    )
    code = "token_limit_exceeded" if part.file_id else "file_limit_reached"
    return (
        f"waiting ({code}): {len(waiting)} batch(es) wait for {what}, since "
        f"{_time(part.waiting_since)}; next try {_time(part.wait_until)}, {part.quota_tries} "
        "so far. Nothing to do if it frees up; it gives up after BATCH_QUOTA_DEADLINE_HOURS. "
        f"To help: {WHILE_WAITING[code]}."
    )


def stuck_reason(job: Job, stuck_hours: float, now: float) -> str:
    """Why a job is open past BATCH_STUCK_HOURS: what each unfinished batch is doing."""
    unfinished = [p for p in job.parts if not p.done]
    described = "; ".join(_doing(p, now) for p in unfinished[:LISTED])
    more = f"; {len(unfinished) - LISTED} more" if len(unfinished) > LISTED else ""
    return (
        f"stuck: open longer than BATCH_STUCK_HOURS ({stuck_hours:g} h) in state "
        f"{job.status.value}: {described or 'no batch is running'}{more}. Azure ends every "
        "batch within its 24 h window, so look at these batches in the Azure OpenAI resource, "
        "or cancel the job (POST /api/jobs/{id}/cancel) and upload the file again."
    )


def _doing(part: Part, now: float) -> str:
    phase = part.phase(now)
    if phase == PartPhase.LIVE:
        done = part.completed + part.failed
        return f"{_name(part)} is {part.remote_status or 'unknown'}, {done}/{part.count} done"
    if phase == PartPhase.WAITING:
        return f"{_name(part)} waits for quota until {_time(part.wait_until)}"
    if phase == PartPhase.CREATE:
        return f"{_name(part)}: its file {part.file_id} is not processed yet"
    return f"{_name(part)} is not uploaded yet"


def _name(part: Part) -> str:
    who = f"batch {part.batch_id}" if part.batch_id else f"part {part.index}"
    return f"{who} ({part.deployment[:100]})"


def _time(epoch: int | None) -> str:
    if not epoch:
        return "unknown"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
