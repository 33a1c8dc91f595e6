"""The data the Functions host sends with each invocation, per trigger, and the HTTP response
it reads back: the same shapes and names, so the runtime builds the same Python objects."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import protocol

BLOB_SOURCE = "AzureStorageBlobs"  # the source the blob extension's SDK types expect


def blob_reference(
    arg_name: str, connection: str, container: str, name: str
) -> protocol.ParameterBinding:
    """An SDK-type blob binding: model binding data naming the blob, never its bytes."""
    content = {"Connection": connection, "ContainerName": container, "BlobName": name}
    data = protocol.ModelBindingData(
        version="1.0",
        source=BLOB_SOURCE,
        content_type="application/json",
        content=json.dumps(content).encode(),
    )
    return protocol.ParameterBinding(
        name=arg_name, data=protocol.TypedData(model_binding_data=data)
    )


def supports_deferred_binding(binding: dict[str, Any]) -> bool:
    """The binding's `properties.SupportsDeferredBinding` as the host reads it (any case,
    a boolean or its text): the runtime sets it for SDK-type parameters only."""
    properties = binding.get("properties") or {}
    flags = [v for k, v in properties.items() if k.lower() == "supportsdeferredbinding"]
    return bool(flags) and str(flags[0]).lower() == "true"


def blob_content(arg_name: str, content: bytes, data_type: str) -> protocol.ParameterBinding:
    """The blob's content, as the host sends it without deferred binding: text for
    dataType "string", else bytes (what func.InputStream and bytes parameters decode)."""
    if data_type.lower() == "string":
        data = protocol.TypedData(string=content.decode("utf-8-sig"))
    else:
        data = protocol.TypedData(bytes=content)
    return protocol.ParameterBinding(name=arg_name, data=data)


def blob_metadata(
    container: str,
    name: str,
    url: str,
    properties: dict[str, Any],
    binding_data: dict[str, str],
) -> dict[str, protocol.TypedData]:
    """Trigger metadata of a blob event: the path, the blob's properties and the values of
    the path's parameters (the `{name}` of `inbox/{name}.jsonl` for `inbox/a.jsonl` is `a`)."""
    metadata = {key: _string(value) for key, value in binding_data.items()}
    metadata.update(
        {
            "BlobTrigger": _string(f"{container}/{name}"),
            "Uri": _string(url),
            "Properties": _json(properties),
            "Metadata": _json({}),
        }
    )
    return metadata


def timer_info(
    past_due: bool, last: datetime | None, next_due: datetime | None
) -> protocol.TypedData:
    """The timer's JSON; ScheduleStatus is absent when the host has no schedule state."""
    status = None
    if next_due is not None:
        status = {
            "Last": _iso(last) if last else None,
            "Next": _iso(next_due),
            "LastUpdated": _iso(datetime.now(UTC)),
        }
    info = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": status, "IsPastDue": past_due}
    return protocol.TypedData(json=json.dumps(info))


@dataclass(frozen=True)
class QueueDelivery:
    """One received queue message, its body already decoded as host.json says."""

    id: str
    body: bytes
    dequeue_count: int
    pop_receipt: str
    inserted_on: datetime | None
    expires_on: datetime | None
    next_visible_on: datetime | None


def queue_message(arg_name: str, message: QueueDelivery) -> protocol.ParameterBinding:
    return protocol.ParameterBinding(name=arg_name, data=_text_or_bytes(message.body))


def queue_metadata(message: QueueDelivery) -> dict[str, protocol.TypedData]:
    return {
        "QueueTrigger": _text_or_bytes(message.body),
        "Id": _string(message.id),
        "DequeueCount": _json(message.dequeue_count),
        "PopReceipt": _string(message.pop_receipt),
        "InsertionTime": _json(_iso(message.inserted_on)),
        "ExpirationTime": _json(_iso(message.expires_on)),
        "NextVisibleTime": _json(_iso(message.next_visible_on)),
    }


def http_request(
    arg_name: str,
    method: str,
    url: str,
    headers: dict[str, str],
    query: dict[str, str],
    route_params: dict[str, str],
    body: bytes,
) -> protocol.ParameterBinding:
    """The request as RpcHttp; the runtime asked for raw body bytes at init."""
    http = protocol.RpcHttp(
        method=method,
        url=url,
        headers=headers,
        query=query,
        params=route_params,
        body=protocol.TypedData(bytes=body),
    )
    return protocol.ParameterBinding(name=arg_name, data=protocol.TypedData(http=http))


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: dict[str, str]
    body: bytes


def http_reply(response: protocol.InvocationResponse) -> HttpReply:
    """Read the function's $return (RpcHttp) back; no return value is an empty 204."""
    value = response.return_value
    if value is None or value.http is None:
        return HttpReply(204, {}, b"")
    http = value.http
    return HttpReply(int(http.status_code or 200), dict(http.headers), _body(http.body))


def _body(data: protocol.TypedData | None) -> bytes:
    if data is None:
        return b""
    if data.bytes is not None:
        return data.bytes
    return (data.string or data.json or "").encode()


def _text_or_bytes(body: bytes) -> protocol.TypedData:
    try:
        return protocol.TypedData(string=body.decode("utf-8"))
    except UnicodeDecodeError:
        return protocol.TypedData(bytes=body)


def _string(value: str) -> protocol.TypedData:
    return protocol.TypedData(string=value)


def _json(value: Any) -> protocol.TypedData:
    return protocol.TypedData(json=json.dumps(value))


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None
