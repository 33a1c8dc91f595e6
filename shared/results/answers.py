"""Reading one answer body: its text, why it ended (`finish_reason`), and whether a structured
answer is the JSON its request asked for. Pure."""

from __future__ import annotations

from typing import Any

import orjson

# Why a Responses API answer stopped, in chat completions' words, so one name counts both.
INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}
TRUNCATED = "length"


def answer_text(response: Any) -> str | None:
    """The assistant's text from a chat completion or a Responses API body."""
    if not isinstance(response, dict):
        return None
    choices = response.get("choices")
    if isinstance(choices, list) and choices:
        first = choices[0] if isinstance(choices[0], dict) else {}
        message = first.get("message")
        content = message.get("content") if isinstance(message, dict) else None
        return content if isinstance(content, str) else None
    texts = [
        c.get("text", "")
        for item in _items(response.get("output"))
        if isinstance(item, dict) and item.get("type") == "message"
        for c in _items(item.get("content"))
        if isinstance(c, dict) and c.get("type") == "output_text"
    ]
    return "".join(texts) if texts else None


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def finish_reason(response: Any) -> str | None:
    """`stop`, `length` (cut off by a token limit), `content_filter`, ...; None if unknown.
    A Responses API body says it with `status` and `incomplete_details`."""
    if not isinstance(response, dict):
        return None
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        reason = choices[0].get("finish_reason")
        return reason if isinstance(reason, str) else None
    status = response.get("status")
    if status == "completed":
        return "stop"
    if status == "incomplete":
        details = response.get("incomplete_details") or {}
        reason = details.get("reason") if isinstance(details, dict) else None
        return INCOMPLETE.get(str(reason), str(reason or "incomplete"))
    return None


def wanted_json(request: dict[str, Any]) -> str | None:
    """`json_schema` or `json_object` when the request asks for a structured answer."""
    fmt = request.get("response_format")
    if fmt is None:
        text = request.get("text")
        fmt = text.get("format") if isinstance(text, dict) else None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    return kind if kind in ("json_schema", "json_object") else None


def structured_error(
    request: dict[str, Any], response: Any, finish: str | None
) -> dict[str, Any] | None:
    """Why a successful call's structured answer is not a result (None when it is fine):
    cut off by a token limit, no text at all, or text that is not a JSON object."""
    kind = wanted_json(request)
    if kind is None:
        return None
    text = answer_text(response)
    why = _unparsable(text)
    if why is None:
        return None
    if finish == TRUNCATED:
        return _error(
            "output_truncated",
            'The answer was cut off at its token limit (finish_reason "length") before its '
            "JSON was complete; raise max_tokens (max_completion_tokens, or max_output_tokens "
            'for responses) in the request or in _job.json "body".',
        )
    if text is None:
        return _error("no_structured_output", "The answer holds no text to read as JSON.")
    wanted = "the JSON schema" if kind == "json_schema" else "JSON mode"
    return _error(
        "invalid_structured_output", f"The answer is not the JSON object {wanted} asks for: {why}."
    )


def _unparsable(text: str | None) -> str | None:
    if text is None:
        return "no text"
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return str(exc)
    return None if isinstance(value, dict) else "it is not an object"


def _error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "status_code": 200}
