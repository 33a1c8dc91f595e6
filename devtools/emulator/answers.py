"""Deterministic chat-completion and response bodies, shaped like Azure OpenAI's."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import orjson

from .schema_fake import fake_value

# Azure answers with the served model version, not the deployment name.
SERVED_MODELS = (
    ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
    ("gpt-4o", "gpt-4o-2024-08-06"),
    ("gpt-4.1-mini", "gpt-4.1-mini-2025-04-14"),
    ("gpt-4.1-nano", "gpt-4.1-nano-2025-04-14"),
    ("gpt-4.1", "gpt-4.1-2025-04-14"),
    ("o4-mini", "o4-mini-2025-04-16"),
    ("o3-mini", "o3-mini-2025-01-31"),
)
WORDS = (
    "amber", "basalt", "cobalt", "dune", "echo", "fern", "granite", "heron", "iris", "juniper",
    "kelp", "lichen", "maple", "nectar", "onyx", "pebble", "quartz", "reed", "sage", "tundra",
)  # fmt: skip
SAFE = {"filtered": False, "severity": "safe"}
CONTENT_FILTER = {"hate": SAFE, "self_harm": SAFE, "sexual": SAFE, "violence": SAFE}
FINGERPRINT = "fp_emulator01"


def body_digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def served_model(deployment: str) -> str:
    for prefix, version in SERVED_MODELS:
        if deployment.startswith(prefix):
            return version
    return deployment


def estimate_tokens(text: str) -> int:
    # Roughly four characters per token, like OpenAI's rule of thumb.
    return max(1, math.ceil(len(text) / 4))


def answer_text(format_spec: Any, digest: str) -> str:
    """The answer: schema-conforming JSON for structured outputs, else a sentence."""
    if isinstance(format_spec, dict) and format_spec.get("type") == "json_schema":
        schema = format_spec.get("schema")
        if schema is None and isinstance(format_spec.get("json_schema"), dict):
            schema = format_spec["json_schema"].get("schema")
        return orjson.dumps(fake_value(schema or {}, digest)).decode()
    if isinstance(format_spec, dict) and format_spec.get("type") == "json_object":
        return orjson.dumps({"answer": _sentence(digest)}).decode()
    return _sentence(digest)


def _sentence(digest: str) -> str:
    picks = [WORDS[int(digest[i : i + 2], 16) % len(WORDS)] for i in range(0, 24, 2)]
    return f"Emulated answer {digest[:8]}: " + " ".join(picks) + "."


def _truncate(text: str, limit: Any) -> tuple[str, bool]:
    if isinstance(limit, int) and limit > 0 and estimate_tokens(text) > limit:
        return text[: limit * 4], True
    return text, False


def chat_completion(body: dict[str, Any], created: int) -> dict[str, Any]:
    digest = body_digest(body)
    text = answer_text(body.get("response_format"), digest)
    text, cut = _truncate(text, body.get("max_completion_tokens", body.get("max_tokens")))
    prompt_tokens = estimate_tokens(orjson.dumps(body.get("messages", [])).decode())
    completion_tokens = estimate_tokens(text)
    n = body["n"] if isinstance(body.get("n"), int) and body["n"] > 0 else 1
    choice = {
        "finish_reason": "length" if cut else "stop",
        "logprobs": None,
        "message": {"role": "assistant", "content": text, "refusal": None},
        "content_filter_results": CONTENT_FILTER,
    }
    return {
        "id": f"chatcmpl-{digest[:29]}",
        "object": "chat.completion",
        "created": created,
        "model": served_model(body["model"]),
        "choices": [{"index": i, **choice} for i in range(n)],
        "usage": _chat_usage(prompt_tokens, completion_tokens * n),
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": CONTENT_FILTER}],
        "system_fingerprint": FINGERPRINT,
    }


def _chat_usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def response_object(body: dict[str, Any], created: int) -> dict[str, Any]:
    digest = body_digest(body)
    text_options = body["text"] if isinstance(body.get("text"), dict) else {}
    text = answer_text(text_options.get("format"), digest)
    text, cut = _truncate(text, body.get("max_output_tokens"))
    prompt = orjson.dumps([body.get("instructions"), body.get("input")]).decode()
    input_tokens, output_tokens = estimate_tokens(prompt), estimate_tokens(text)
    message = {
        "id": f"msg_{digest[:40]}",
        "type": "message",
        "status": "incomplete" if cut else "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    return {
        "id": f"resp_{digest[16:56]}",
        "object": "response",
        "created_at": created,
        "status": "incomplete" if cut else "completed",
        "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
        "error": None,
        "model": served_model(body["model"]),
        "output": [message],
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        },
    }


def _shorter(text: str, fraction: float) -> str:
    # At least one character goes, so a cut JSON answer never parses.
    return text[: min(int(len(text) * fraction), max(0, len(text) - 1))]


def cut_off(body: dict[str, Any], fraction: float) -> dict[str, Any]:
    """`body` as if the answer had hit its token limit after `fraction` of its text."""
    if body.get("object") == "response":
        content = body["output"][0]["content"][0]
        content["text"] = _shorter(content["text"], fraction)
        body["status"] = body["output"][0]["status"] = "incomplete"
        body["incomplete_details"] = {"reason": "max_output_tokens"}
        usage = body["usage"]
        usage["output_tokens"] = estimate_tokens(content["text"])
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        return body
    for choice in body["choices"]:
        choice["message"]["content"] = _shorter(choice["message"]["content"], fraction)
        choice["finish_reason"] = "length"
    completion = sum(estimate_tokens(c["message"]["content"]) for c in body["choices"])
    body["usage"] = _chat_usage(body["usage"]["prompt_tokens"], completion)
    return body


def answer(endpoint: str, body: dict[str, Any], created: int) -> dict[str, Any]:
    if endpoint.endswith("/responses"):
        return response_object(body, created)
    return chat_completion(body, created)
