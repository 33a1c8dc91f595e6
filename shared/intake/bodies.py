"""Request bodies: can one be a chat or responses request; building them from job settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.batches.batchfile import CHAT_URLS

if TYPE_CHECKING:
    from shared.intake.folder_settings import FolderSettings

CHAT_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
SYSTEM_ROLES = frozenset({"system", "developer"})


def body_problem(url: str, body: dict[str, Any]) -> str | None:
    """What makes `body` unusable at `url` (a phrase to follow "body"), or None."""
    if body.get("stream"):
        return 'asks to "stream", which batch requests cannot; remove it'
    if url in CHAT_URLS:
        return _chat_problem(body)
    return _responses_problem(body)


def _chat_problem(body: dict[str, Any]) -> str | None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        if "input" in body:
            return 'has "input", which is for /v1/responses; chat requests take "messages"'
        return 'needs a non-empty "messages" list for a chat request'
    for index, message in enumerate(messages):
        why = _message_problem(message)
        if why is not None:
            return f"messages[{index}] {why}"
    return None


def _message_problem(message: Any) -> str | None:
    if not isinstance(message, dict):
        return 'must be an object like {"role": "user", "content": "..."}'
    role = message.get("role")
    if not isinstance(role, str) or role not in CHAT_ROLES:
        return f"has role {role!r}; use system, developer, user, assistant or tool"
    content = message.get("content")
    if isinstance(content, (str, list)):  # noqa: UP038 - the tuple form is faster here
        return None
    if content is None and role == "assistant":
        if message.get("tool_calls") or message.get("function_call"):
            return None
    return 'needs "content": a string or a list of content parts'


def _responses_problem(body: dict[str, Any]) -> str | None:
    given = body.get("input")
    if isinstance(given, str) and given.strip():
        return None
    if isinstance(given, list) and given:
        return None
    if "messages" in body:
        return 'has "messages", which is for chat; responses requests take "input"'
    return 'needs "input" (a string or a non-empty list) for a responses request'


def has_system(messages: list[Any]) -> bool:
    return any(isinstance(m, dict) and m.get("role") in SYSTEM_ROLES for m in messages)


def chat_body(settings: FolderSettings, deployment: str, messages: list[Any]) -> dict[str, Any]:
    if settings.system and not has_system(messages):
        messages = [{"role": "system", "content": settings.system}, *messages]
    body = {**settings.body, "model": deployment, "messages": messages}
    if settings.output is not None:
        body["response_format"] = settings.output.chat()
    return body


def responses_body(
    settings: FolderSettings, deployment: str, given: str | list[Any]
) -> dict[str, Any]:
    body: dict[str, Any] = {**settings.body, "model": deployment, "input": given}
    if settings.system and not (isinstance(given, list) and has_system(given)):
        body["instructions"] = settings.system
    if settings.output is not None:
        text = _object(body.get("text"))
        body["text"] = {**text, "format": settings.output.responses()}
    return body


def prompt_body(
    settings: FolderSettings, deployment: str, url: str, given: str | list[Any]
) -> dict[str, Any]:
    """The body for a prompt (text) or a conversation (messages) under the folder's settings."""
    if url not in CHAT_URLS:
        return responses_body(settings, deployment, given)
    messages = [{"role": "user", "content": given}] if isinstance(given, str) else given
    return chat_body(settings, deployment, messages)


def with_settings(
    body: dict[str, Any], url: str, settings: FolderSettings
) -> dict[str, Any] | None:
    """A native line's body with the folder's settings where the line sets nothing itself;
    None when the settings change nothing."""
    if not settings.shapes_bodies:
        return None
    merged = {**settings.body, **body}
    if url in CHAT_URLS:
        _chat_defaults(merged, body, settings)
    else:
        _responses_defaults(merged, body, settings)
    return merged if merged != body else None


def _chat_defaults(merged: dict[str, Any], body: dict[str, Any], settings: FolderSettings) -> None:
    messages = body["messages"]
    if settings.system and not has_system(messages):
        merged["messages"] = [{"role": "system", "content": settings.system}, *messages]
    if settings.output is not None and "response_format" not in body:
        merged["response_format"] = settings.output.chat()


def _responses_defaults(
    merged: dict[str, Any], body: dict[str, Any], settings: FolderSettings
) -> None:
    given = body["input"]
    if settings.system and "instructions" not in body:
        if not (isinstance(given, list) and has_system(given)):
            merged["instructions"] = settings.system
    text = _object(merged.get("text"))
    if settings.output is not None and "format" not in text:
        merged["text"] = {**text, "format": settings.output.responses()}


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
