"""Generated work files for the merge benchmark: the work index as prepare writes it, and
an output and an error file as Azure writes them, in shuffled order."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

FULL_SIZE = 100_000  # requests; about 197 MB of input, 75 MB of answers
ANSWERED = 0.98  # the rest are error lines
DEPLOYMENT = "gpt-4o-mini-batch"
MODEL = "gpt-4o-mini-2024-07-18"  # answers name the served model version, not the deployment
INDEX, OUTPUT, ERRORS = "requests.jsonl", "out-0000.jsonl", "err-0000.jsonl"
WORDS = (
    "batch prompt model answer token quota deploy storage request result merge order input "
    "output error retry window global azure function trigger timer blob table queue line"
).split()
# (status, code, message): a content filter is final; throttling and server errors retry.
FAILURES = (
    (400, "content_filter", "The response was filtered due to the prompt triggering a filter."),
    (429, "rate_limit_exceeded", "Rate limit is exceeded. Try again later."),
    (500, "server_error", "The server had an error while processing your request."),
)
POOL = 512  # distinct texts; which one a line gets varies, so no two neighbours repeat


def custom_id(number: int) -> str:
    return f"task-{number:07d}"


def texts(rng: random.Random, words: int) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(words)) for _ in range(POOL)]


def index_line(number: int, text: str) -> bytes:
    """One line of the work index, byte for byte as prepare writes it."""
    body = {
        "model": DEPLOYMENT,
        "messages": [
            {"role": "system", "content": "You summarise text in one sentence."},
            {"role": "user", "content": f"Summarise ({number}): {text}"},
        ],
        "max_tokens": 200,
        "temperature": 0,
    }
    head = b'{"line":%d,"custom_id":"%b","part":0,"request":' % (
        number,
        custom_id(number).encode(),
    )
    return head + orjson.dumps(body) + b"}\n"


def answer_line(number: int, text: str) -> bytes:
    """An output line: a chat completion with usage, in Azure's envelope."""
    body = {
        "id": f"chatcmpl-{uuid.UUID(int=number).hex[:29]}",
        "object": "chat.completion",
        "created": 1_723_456_789,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 310, "completion_tokens": 60, "total_tokens": 370},
        "system_fingerprint": "fp_b705f0c291",
    }
    return _envelope(number, 200, body)


def error_line(number: int) -> bytes:
    status, code, message = FAILURES[number % len(FAILURES)]
    return _envelope(number, status, {"error": {"code": code, "message": message}})


def _envelope(number: int, status: int, body: dict[str, Any]) -> bytes:
    line = {
        "id": f"batch_req_{uuid.UUID(int=number).hex}",
        "custom_id": custom_id(number),
        "response": {
            "status_code": status,
            "request_id": str(uuid.UUID(int=number << 1)),
            "body": body,
        },
        "error": None,
    }
    return orjson.dumps(line) + b"\n"


def generate(folder: Path, requests: int, seed: int = 7) -> None:
    """requests.jsonl in input order; out-0000.jsonl and err-0000.jsonl shuffled."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    prompts, answers = texts(rng, 263), texts(rng, 34)
    _write(folder / INDEX, (index_line(n, prompts[n * 7 % POOL]) for n in range(1, requests + 1)))
    order = list(range(1, requests + 1))
    rng.shuffle(order)
    answered = int(requests * ANSWERED)
    _write(folder / OUTPUT, (answer_line(n, answers[n * 3 % POOL]) for n in order[:answered]))
    _write(folder / ERRORS, (error_line(n) for n in order[answered:]))


def _write(path: Path, lines: Iterator[bytes]) -> None:
    with path.open("wb") as out:
        for line in lines:
            out.write(line)


def ready(folder: Path) -> bool:
    return all((folder / name).exists() for name in (INDEX, OUTPUT, ERRORS))
