"""Helpers shared by the emulator's tests: clients, files, batches and raw HTTP."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import orjson

from devtools.emulator import Emulator, EmulatorConfig, Timings

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT = "gpt-4o-mini-batch"
KEY = "test-key"
SECRET = "test-entra-secret"  # signs the stand-in Entra ID tokens
ADMIN = "test-admin-token"
FAST = Timings(
    file_processing=0.02, validating=0.03, in_progress=0.06, finalizing=0.02, cancelling=0.03
)
TERMINAL = {"completed", "failed", "expired", "cancelled"}


def chat_line(custom_id: str, text: str, **overrides: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/chat/completions",
        "body": {"model": DEPLOYMENT, "messages": [{"role": "user", "content": text}]},
    }
    line.update(overrides)
    return line


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def chat_file(count: int, prefix: str = "c") -> bytes:
    return jsonl([chat_line(f"{prefix}{i}", f"question {i}") for i in range(count)])


def make_emulator(**overrides: Any) -> Emulator:
    settings: dict[str, Any] = {
        "api_key": KEY,
        "entra_secret": SECRET,
        "admin_token": ADMIN,
        "deployments": frozenset({DEPLOYMENT}),
        "timings": FAST,
    }
    settings.update(overrides)
    return Emulator(EmulatorConfig(**settings))


def v1_client(url: str, **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=f"{url}/openai/v1/", api_key=KEY, **kwargs)


def dated_client(url: str, version: str = "2024-10-21", **kwargs: Any) -> openai.OpenAI:
    kwargs.setdefault("max_retries", 0)
    kwargs.setdefault("api_key", KEY)
    return openai.AzureOpenAI(azure_endpoint=url, api_version=version, **kwargs)


CLIENTS: dict[str, Callable[[str], openai.OpenAI]] = {
    "v1": v1_client,
    "dated": dated_client,
    "preview": lambda url: dated_client(url, "2025-04-01-preview"),
    "deployment": lambda url: dated_client(url, azure_deployment=DEPLOYMENT),
}


def poll(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.01)


def upload(client: openai.OpenAI, data: bytes, **kwargs: Any) -> str:
    created = client.files.create(file=("input.jsonl", data), purpose="batch", **kwargs)
    done = poll(lambda: client.files.retrieve(created.id), lambda f: f.status == "processed")
    assert done.status == "processed"
    return created.id


def run_batch(
    client: openai.OpenAI, data: bytes, endpoint: str = "/chat/completions", **kwargs: Any
) -> Any:
    file_id = upload(client, data)
    batch = client.batches.create(
        input_file_id=file_id, endpoint=endpoint, completion_window="24h", **kwargs
    )
    return wait_final(client, batch.id)


def wait_final(client: openai.OpenAI, batch_id: str) -> Any:
    return poll(lambda: client.batches.retrieve(batch_id), lambda b: b.status in TERMINAL)


def read_lines(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    content = client.files.content(file_id).content
    return [orjson.loads(line) for line in content.splitlines()]


def raw_request(
    url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    data = None if body is None else orjson.dumps(body)
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def answer_of(line: dict[str, Any]) -> str:
    body = line["response"]["body"]
    if body["object"] == "response":
        return body["output"][0]["content"][0]["text"]
    return body["choices"][0]["message"]["content"]


def admin(url: str, method: str = "GET", body: Any = None, token: str = ADMIN) -> Any:
    """Calls an admin endpoint with the admin token; returns the decoded JSON answer."""
    status, _, raw = raw_request(url, method, body, {"Authorization": f"Bearer {token}"})
    assert status == 200, raw
    return orjson.loads(raw)
