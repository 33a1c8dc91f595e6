"""Native batch lines: check one, repair what is safe to repair, and build its Request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.batches.batchfile import CHAT_URLS, KNOWN_URLS
from shared.intake.bodies import body_problem, with_settings
from shared.intake.model import Intake, Request
from shared.intake.problem import Problem
from shared.intake.text import colons, duplicate_key, duplicate_problem, encode

if TYPE_CHECKING:
    from shared.intake.options import IntakeOptions

TOP_LEVEL = frozenset({"custom_id", "method", "url", "body"})
MAX_CUSTOM_ID = 512
CHAT_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def checked_custom_id(number: int, custom_id: object) -> str | Problem:
    """The custom_id if usable; control characters and / \\ # ? are fine (never a table key)."""
    if isinstance(custom_id, str):
        if not custom_id.strip():
            return Problem(number, "missing_custom_id", f'Line {number}: "custom_id" is empty.')
        if len(custom_id) > MAX_CUSTOM_ID:
            return Problem(
                number,
                "custom_id_too_long",
                f"Line {number}: custom_id is longer than {MAX_CUSTOM_ID} characters.",
                custom_id[:64],
            )
        return custom_id
    if custom_id is None:
        return Problem(
            number, "missing_custom_id", f'Line {number} needs a non-empty string "custom_id".'
        )
    example = f', e.g. "{custom_id}"' if isinstance(custom_id, int | float) else ""
    return Problem(
        number,
        "invalid_custom_id",
        f'Line {number}: "custom_id" must be a string; write it in quotes{example}.',
    )


def too_deep(number: int, custom_id: str | None = None) -> Problem:
    return Problem(
        number,
        "too_deep",
        f"Line {number} nests more than 255 levels deep; no request needs that. Flatten it.",
        custom_id,
    )


def quick_chat(number: int, raw: bytes, data: dict[str, Any]) -> Request | None:
    """The common case fast: a plain chat request, all keys known and present. None means
    "look carefully" (native_request), which also explains anything wrong."""
    body = data.get("body")
    custom_id = data.get("custom_id")
    if not (
        len(data) == 4
        and data.get("method") == "POST"
        and type(data.get("url")) is str
        and data["url"] in CHAT_URLS
        and type(custom_id) is str
        and 0 < len(custom_id) <= MAX_CUSTOM_ID
        and not custom_id.isspace()
        and type(body) is dict
        and _plain_chat_body(body)
    ):
        return None
    body_json = encode(body)
    if body_json is None:
        return None
    # Strict JSON: no key lost to a duplicate (see text.duplicate_key): as many colons as
    # the top-level keys, the custom_id's (url and method have none) and the body's. Counted
    # as the length a removal takes off, which is twice as fast as bytes.count here.
    expected = 4 + custom_id.count(":") + len(body_json) - len(body_json.replace(b":", b""))
    if len(raw) - len(raw.replace(b":", b"")) != expected or (b"\\" in raw and b"\\u003" in raw):
        return None
    return Request(number, custom_id, data["url"], body["model"], body, None, body_json)


def _plain_chat_body(body: dict[str, Any]) -> bool:
    model = body.get("model")
    messages = body.get("messages")
    if type(model) is not str or not model or model.isspace() or "stream" in body:
        return False
    if type(messages) is not list or not messages:
        return False
    for message in messages:
        if type(message) is not dict or type(message.get("content")) is not str:
            return False
        role = message.get("role")
        if type(role) is not str or role not in CHAT_ROLES:
            return False
    return True


def native_request(
    number: int, raw: bytes, data: dict[str, Any], options: IntakeOptions, intake: Intake
) -> Request | Problem:
    """Check one native line; a Problem says what to fix, else the normalised Request."""
    custom_id = checked_custom_id(number, data.get("custom_id"))
    if isinstance(custom_id, Problem):
        return custom_id
    url = _envelope(number, custom_id, data, options, intake)
    if isinstance(url, Problem):
        return url
    mixed = intake.check_url(number, url, custom_id)
    if mixed is not None:
        return mixed
    body = data.get("body")
    if not isinstance(body, dict):
        return Problem(number, "missing_body", f'Line {number} needs a "body" object.', custom_id)
    body_json = encode(body)
    if body_json is None:
        return too_deep(number, custom_id)
    key = duplicate_key(raw, _line_colons(data, body_json))
    if key is not None:
        return duplicate_problem(number, key, custom_id)
    return _with_body(Request(number, custom_id, url, "", body, None, body_json), options, intake)


def _envelope(
    number: int, custom_id: str, data: dict[str, Any], options: IntakeOptions, intake: Intake
) -> str | Problem:
    """The line's url after checking method and url; unknown top-level keys are dropped."""
    if not TOP_LEVEL.issuperset(data):
        intake.repaired(
            "Dropped top-level keys that are not part of a batch request ({names})",
            number,
            sorted(data.keys() - TOP_LEVEL),
        )
    method = data.get("method")
    if method is None:
        intake.repaired('Filled in a missing "method" with POST', number)
    elif not isinstance(method, str) or method.upper() != "POST":
        message = f"Line {number}: method must be POST, not {method!r}."
        return Problem(number, "unsupported_method", message, custom_id)
    url = data.get("url")
    if url is None:
        intake.repaired(f'Filled in a missing "url" with {options.url}', number)
        return options.url
    if not isinstance(url, str) or url not in KNOWN_URLS:
        return _unsupported_url(number, url, custom_id)
    return url


def _unsupported_url(number: int, url: object, custom_id: str) -> Problem:
    if isinstance(url, str) and "embeddings" in url.lower():
        message = (
            f"Line {number}: url {url!r}: Azure OpenAI's batch API does not take embeddings "
            "(it runs chat completions and responses only); call the embeddings API directly."
        )
        return Problem(number, "unsupported_url", message, custom_id)
    message = f"Line {number}: url {url!r} is not one of {', '.join(sorted(KNOWN_URLS))}."
    return Problem(number, "unsupported_url", message, custom_id)


def _line_colons(data: dict[str, Any], body_json: bytes) -> int:
    total = len(data) + body_json.count(b":")
    for key, value in data.items():
        if key != "body":
            total += colons(value)
    return total


def _with_body(request: Request, options: IntakeOptions, intake: Intake) -> Request | Problem:
    """Check the body for its endpoint, then fill in the model and the folder's settings."""
    number, body = request.line, request.body
    why = body_problem(request.url, body) or _model_problem(body.get("model"))
    if why is not None:
        message = f"Line {number}: body {why}."
        return Problem(number, "invalid_body", message, request.custom_id)
    model = body.get("model")
    if model is None:
        model = options.deployment
        if model is None:
            return _no_model(request)
        intake.repaired(f'Set a missing "body.model" to the default deployment {model}', number)
        body = {**body, "model": model}
    changed = with_settings(body, request.url, options.settings)
    if changed is not None:
        body = changed
    if body is request.body:
        request.deployment = model
        return request
    body_json = encode(body)
    if body_json is None:
        return too_deep(number, request.custom_id)
    return Request(number, request.custom_id, request.url, model, body, None, body_json)


def _model_problem(model: object) -> str | None:
    if model is None or (isinstance(model, str) and model.strip()):
        return None
    return '"model" must name a deployment (a non-empty string)'


def _no_model(request: Request) -> Problem:
    return Problem(
        request.line,
        "missing_model",
        f"Line {request.line}: body.model is missing and no default deployment is set; name the "
        'Global-Batch deployment in body.model, in "deployment" of _job.json, or in '
        "AZURE_OPENAI_DEPLOYMENT.",
        request.custom_id,
    )
