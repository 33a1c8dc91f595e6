"""Forward request bodies to an OpenAI-compatible server instead of answering them."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class UpstreamReply:
    status: int  # 0 when no HTTP answer arrived (timeout, refused connection)
    body: Any


def upstream_url(base: str, endpoint: str) -> str:
    path = "/responses" if endpoint.endswith("/responses") else "/chat/completions"
    return base.rstrip("/") + path


def _opener(url: str) -> urllib.request.OpenerDirector:
    # A proxy from the environment must not swallow calls to a local stub.
    if urlsplit(url).hostname in LOOPBACK:
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def _decode(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def call_upstream(base: str, endpoint: str, body: dict, timeout: float) -> UpstreamReply:
    url = upstream_url(base, endpoint)
    request = urllib.request.Request(
        url,
        data=orjson.dumps(body),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with _opener(url).open(request, timeout=timeout) as response:
            return UpstreamReply(response.status, _decode(response.read()))
    except urllib.error.HTTPError as exc:
        return UpstreamReply(exc.code, _decode(exc.read()))
    except (urllib.error.URLError, OSError):
        return UpstreamReply(0, None)
