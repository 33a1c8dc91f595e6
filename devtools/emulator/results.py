"""Output and error-file lines, and the per-line processing (faults, answers, upstream)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import orjson

from .answers import answer, cut_off
from .faults import LINE_ERRORS, Faults, line_error, line_fault, truncation
from .rules import Facts, Scope
from .store import LineResult
from .upstream import UpstreamReply, call_upstream

EXPIRED_ERROR = {
    "code": "batch_expired",
    "message": "This request could not be executed before the completion window expired.",
}


def _ids(batch_id: str, custom_id: str) -> tuple[str, str]:
    # Stable ids keep repeated downloads of the same batch byte-identical.
    digest = hashlib.sha256(f"{batch_id}\0{custom_id}".encode()).digest()
    return f"batch_req_{digest[:16].hex()}", str(uuid.UUID(bytes=digest[16:32], version=4))


def success(batch_id: str, custom_id: str, body: dict[str, Any]) -> LineResult:
    line_id, request_id = _ids(batch_id, custom_id)
    line = {
        "id": line_id,
        "custom_id": custom_id,
        "response": {"status_code": 200, "request_id": request_id, "body": body},
        "error": None,
    }
    return LineResult(custom_id, True, orjson.dumps(line))


def failure(
    batch_id: str, custom_id: str, status: int, error: dict[str, Any], shape: str = "response"
) -> LineResult:
    line_id, request_id = _ids(batch_id, custom_id)
    line: dict[str, Any] = {"id": line_id, "custom_id": custom_id}
    if shape == "error":
        line.update(response=None, error=error)
    else:
        response = {"status_code": status, "request_id": request_id, "body": {"error": error}}
        line.update(response=response, error=None)
    return LineResult(custom_id, False, orjson.dumps(line))


def expired_line(batch_id: str, custom_id: str) -> bytes:
    line_id, _ = _ids(batch_id, custom_id)
    line = {"id": line_id, "custom_id": custom_id, "response": None, "error": EXPIRED_ERROR}
    return orjson.dumps(line)


@dataclass
class Processor:
    """Turns one validated request line into its result line."""

    batch_id: str
    endpoint: str
    faults: Faults
    facts: Facts  # the batch's, for scoped faults
    now: Callable[[], int]  # epoch seconds, for the answers' `created`
    upstream: str | None = None
    timeout: float = 60.0
    call: Callable[[str, str, dict, float], UpstreamReply] = call_upstream

    def run(self, request: dict[str, Any]) -> LineResult:
        custom_id = request["custom_id"]
        # A line is about its own deployment, within its batch's file and metadata.
        scope = Scope(
            lambda: replace(self.facts, deployments=frozenset({request["body"]["model"]}))
        )
        fault = line_fault(self.faults, custom_id, scope)
        if fault is not None:
            status, error = line_error(fault)
            return failure(self.batch_id, custom_id, status, error, fault["shape"])
        if self.upstream is not None:
            return self._from_upstream(custom_id, request["body"])
        body = answer(self.endpoint, request["body"], self.now())
        kept = truncation(self.faults, custom_id, scope)
        return success(self.batch_id, custom_id, body if kept is None else cut_off(body, kept))

    def _from_upstream(self, custom_id: str, body: dict[str, Any]) -> LineResult:
        reply = self.call(self.upstream or "", self.endpoint, body, self.timeout)
        if 200 <= reply.status < 300 and isinstance(reply.body, dict):
            return success(self.batch_id, custom_id, reply.body)
        if reply.status == 0:
            code, message = LINE_ERRORS[0]
            return failure(self.batch_id, custom_id, 0, {"code": code, "message": message})
        return failure(self.batch_id, custom_id, reply.status, _upstream_error(reply))


def _upstream_error(reply: UpstreamReply) -> dict[str, Any]:
    body = reply.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]
    return {"code": str(reply.status), "message": f"Upstream answered HTTP {reply.status}."}
