"""File-wide rules checked line by line: unique custom_id, allowed deployments, what fits."""

from __future__ import annotations

from shared.intake.model import CHARS_PER_TOKEN, Intake, Request
from shared.intake.options import IntakeOptions
from shared.intake.problem import Problem
from shared.intake.unique import UniqueIds

# The largest context window of any model Azure OpenAI runs batches for (GPT-5.4: 1,050,000
# tokens; GPT-4.1: 1,047,576). The estimate (about 4 bytes a token) is rough, so a request
# above it is a warning, and only one above twice as much, which no tokenizer brings under
# the limit, is refused.
LARGEST_CONTEXT = 1_050_000
REFUSE_ABOVE = 2 * LARGEST_CONTEXT
CONTEXT_WARNING = (
    f"Requests estimated above {LARGEST_CONTEXT:,} input tokens, more than any model's context "
    "window, will likely fail at the service (shorten them)"
)


# No deployment name is this long (the portal allows 64 characters); a longer one is a mistake,
# and it would not fit the job table's columns whole.
MAX_DEPLOYMENT = 255


class Checker:
    """File-wide rules: unique custom_id, allowed deployments, what fits in a batch."""

    def __init__(self, options: IntakeOptions | None = None, intake: Intake | None = None) -> None:
        options = options or IntakeOptions()
        self._allowed = options.allowed_deployments
        self._max_bytes = options.max_bytes
        self._max_tokens = options.max_tokens
        self._intake = intake
        self._first_line = UniqueIds().first_line

    def check(self, request: Request) -> Problem | None:
        first = self._first_line(request.custom_id, request.line)
        if first is not None:
            return _duplicate(request, first)
        if len(request.deployment) > MAX_DEPLOYMENT:
            return _long_deployment(request)
        if self._allowed and request.deployment not in self._allowed and request.deployment:
            return _not_allowed(request, self._allowed)
        if len(request.body_json) + 6 * len(request.custom_id) + 80 > self._max_bytes:
            if len(request.native()) + 1 > self._max_bytes:
                return _too_large(request, self._max_bytes)
        if self._max_tokens and request.tokens > self._max_tokens:
            return _too_many_tokens(request, self._max_tokens)
        if len(request.body_json) > LARGEST_CONTEXT * CHARS_PER_TOKEN:
            return self._beyond_context(request)
        return None

    def _beyond_context(self, request: Request) -> Problem | None:
        if request.tokens > REFUSE_ABOVE:
            return Problem(
                request.line,
                "exceeds_context",
                f"Line {request.line}: the request is about {request.tokens:,} tokens; no "
                f"model's context window holds more than {LARGEST_CONTEXT:,}. Shorten it or "
                "split it into several requests.",
                request.custom_id,
            )
        if self._intake is not None:
            self._intake.repaired(CONTEXT_WARNING, request.line)
        return None


def too_many_requests(line: int | None, limit: int) -> Problem:
    where = f"; reading stopped at line {line:,}" if line else ""
    return Problem(
        None,
        "too_many_requests",
        f"The file holds more than {limit:,} requests, the most one file may hold "
        f"(BATCH_MAX_FILE_REQUESTS){where}. Nothing was submitted. Split it into files of at "
        f"most {limit:,} requests, or raise BATCH_MAX_FILE_REQUESTS (reading and merging a "
        "file holds under 100 bytes of memory per request).",
    )


def _duplicate(request: Request, first: int) -> Problem:
    return Problem(
        request.line,
        "duplicate_custom_id",
        f"Line {request.line}: custom_id {request.custom_id!r} already used "
        f"on line {first}; each request needs its own.",
        request.custom_id,
    )


def _long_deployment(request: Request) -> Problem:
    return Problem(
        request.line,
        "deployment_name_too_long",
        f"Line {request.line}: the deployment name is {len(request.deployment):,} characters; "
        f"deployment names are at most {MAX_DEPLOYMENT}. Put the deployment's name in "
        '"body.model" (or the folder\'s _job.json "deployment").',
        request.custom_id,
    )


def _not_allowed(request: Request, allowed: frozenset[str]) -> Problem:
    return Problem(
        request.line,
        "deployment_not_allowed",
        f"Line {request.line}: deployment {request.deployment!r} is not allowed here; "
        f"use one of {', '.join(sorted(allowed))} (BATCH_ALLOWED_DEPLOYMENTS).",
        request.custom_id,
    )


def _too_large(request: Request, limit: int) -> Problem:
    return Problem(
        request.line,
        "too_large",
        f"Line {request.line}: the request is larger than a whole batch file may be "
        f"({limit:,} bytes, BATCH_MAX_BYTES).",
        request.custom_id,
    )


def _too_many_tokens(request: Request, limit: int) -> Problem:
    return Problem(
        request.line,
        "too_many_tokens",
        f"Line {request.line}: the request alone is about {request.tokens:,} tokens, more "
        f"than one batch may enqueue (BATCH_MAX_TOKENS = {limit:,}).",
        request.custom_id,
    )
