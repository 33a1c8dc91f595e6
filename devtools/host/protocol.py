"""The Functions language-worker protocol messages that pass between this host and the runtime.

Written for this project from the protocol's public definition (FunctionRpc.proto in
Azure/azure-functions-language-worker-protobuf): the same message names, field names, enum
values and oneof groups, as plain dataclasses. The `azure-functions-runtime` library takes its
message classes from the host (the `protos` property of each request), builds them with
keyword arguments, reads their fields and calls `WhichOneof` on two oneofs (`TypedData.data`,
`ParameterBinding.rpc_data`), so no protobuf runtime or generated code is needed. Unset
sub-messages default to empty ones, as in protobuf. Only the messages on the paths this host
drives are here (worker init, functions metadata, function load, invocation with blob, timer,
queue and HTTP data); a message the runtime asks for that is missing fails loudly with an
AttributeError naming it.
"""

from __future__ import annotations

import builtins
from dataclasses import MISSING, dataclass, field, fields
from datetime import timedelta
from typing import Any, ClassVar


class Message:
    """What every message shares: protobuf's `WhichOneof` over the declared oneof groups."""

    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {}

    def WhichOneof(self, group: str) -> str | None:  # noqa: N802 - protobuf's name
        for name in self.ONEOFS[group]:
            if getattr(self, name) is not None:
                return name
        return None

    def __post_init__(self) -> None:
        # protobuf treats None as "unset": the field keeps its default.
        for f in fields(self):  # type: ignore[arg-type]
            if getattr(self, f.name) is None and f.default is not None:
                if f.default_factory is not MISSING:
                    setattr(self, f.name, f.default_factory())
                elif f.default is not MISSING:
                    setattr(self, f.name, f.default)
        # protobuf rejects two members of one oneof; so do we, to catch host-side mistakes.
        for group, names in self.ONEOFS.items():
            if sum(getattr(self, n) is not None for n in names) > 1:
                raise ValueError(f"{type(self).__name__}: more than one field of oneof {group}")


# Values and shared shapes -------------------------------------------------------------------


@dataclass
class RpcException(Message):
    source: str = ""
    stack_trace: str = ""
    message: str = ""
    is_user_exception: bool = False
    type: str = ""


@dataclass
class StatusResult(Message):
    Failure: ClassVar[int] = 0
    Success: ClassVar[int] = 1
    Cancelled: ClassVar[int] = 2

    status: int = 0
    result: str = ""
    exception: RpcException | None = None
    logs: list[Any] = field(default_factory=list)


@dataclass
class ModelBindingData(Message):
    """Data for an SDK-type binding (a BlobClient built from it, never the blob's bytes)."""

    version: str = ""
    source: str = ""
    content_type: str = ""
    content: bytes = b""


@dataclass
class RpcHttp(Message):
    method: str = ""
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: TypedData | None = None
    params: dict[str, str] = field(default_factory=dict)
    status_code: str = ""
    query: dict[str, str] = field(default_factory=dict)
    enable_content_negotiation: bool = False
    cookies: list[Any] | None = None


@dataclass
class TypedData(Message):
    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {
        "data": ("string", "json", "bytes", "stream", "http", "int", "double", "model_binding_data")
    }

    string: builtins.str | None = None
    json: builtins.str | None = None
    bytes: builtins.bytes | None = None
    stream: builtins.bytes | None = None
    http: RpcHttp | None = None
    int: builtins.int | None = None
    double: builtins.float | None = None
    model_binding_data: ModelBindingData | None = None


@dataclass
class ParameterBinding(Message):
    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {"rpc_data": ("data", "rpc_shared_memory")}

    name: str = ""
    data: TypedData | None = None
    rpc_shared_memory: Any = None  # not used from Python 3.13 on (gRPC messages only)


@dataclass
class BindingInfo(Message):
    # Direction: `in` is a Python keyword, so it is set below, as protobuf's Python code does.
    out: ClassVar[int] = 1
    inout: ClassVar[int] = 2
    # DataType
    undefined: ClassVar[int] = 0
    string: ClassVar[int] = 1
    binary: ClassVar[int] = 2
    stream: ClassVar[int] = 3

    type: str = ""
    direction: int = 0
    data_type: int = 0
    properties: dict[str, str] = field(default_factory=dict)


setattr(BindingInfo, "in", 0)  # noqa: B010 - `BindingInfo.in` is not valid syntax


@dataclass
class RpcRetryOptions(Message):
    max_retry_count: int = 0
    delay_interval: timedelta | None = None
    minimum_interval: timedelta | None = None
    maximum_interval: timedelta | None = None
    retry_strategy: str = ""


@dataclass
class RpcFunctionMetadata(Message):
    name: str = ""
    function_id: str = ""
    directory: str = ""
    script_file: str = ""
    entry_point: str = ""
    bindings: dict[str, BindingInfo] = field(default_factory=dict)
    is_proxy: bool = False
    status: StatusResult | None = None
    language: str = ""
    raw_bindings: list[str] = field(default_factory=list)
    managed_dependency_enabled: bool = False
    retry_options: RpcRetryOptions | None = None
    properties: dict[str, str] = field(default_factory=dict)


@dataclass
class WorkerMetadata(Message):
    runtime_name: str = ""
    runtime_version: str = ""
    worker_version: str = ""
    worker_bitness: str = ""
    custom_properties: dict[str, str] = field(default_factory=dict)


# Host to worker ------------------------------------------------------------------------------


@dataclass
class WorkerInitRequest(Message):
    host_version: str = ""
    capabilities: dict[str, str] = field(default_factory=dict)
    log_categories: dict[str, int] = field(default_factory=dict)
    worker_directory: str = ""
    function_app_directory: str = ""


@dataclass
class FunctionsMetadataRequest(Message):
    function_app_directory: str = ""


@dataclass
class FunctionLoadRequest(Message):
    function_id: str = ""
    metadata: RpcFunctionMetadata = field(default_factory=RpcFunctionMetadata)
    managed_dependency_enabled: bool = False


@dataclass
class RpcTraceContext(Message):
    trace_parent: str = ""
    trace_state: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class RetryContext(Message):
    retry_count: int = 0
    max_retry_count: int = 0
    exception: RpcException = field(default_factory=RpcException)


@dataclass
class InvocationRequest(Message):
    invocation_id: str = ""
    function_id: str = ""
    input_data: list[ParameterBinding] = field(default_factory=list)
    trigger_metadata: dict[str, TypedData] = field(default_factory=dict)
    trace_context: RpcTraceContext = field(default_factory=RpcTraceContext)
    retry_context: RetryContext = field(default_factory=RetryContext)


@dataclass
class StreamingMessage(Message):
    ONEOFS: ClassVar[dict[str, tuple[str, ...]]] = {
        "content": (
            "worker_init_request",
            "functions_metadata_request",
            "function_load_request",
            "invocation_request",
        )
    }

    request_id: str = ""
    worker_init_request: WorkerInitRequest | None = None
    functions_metadata_request: FunctionsMetadataRequest | None = None
    function_load_request: FunctionLoadRequest | None = None
    invocation_request: InvocationRequest | None = None


# Worker to host ------------------------------------------------------------------------------


@dataclass
class WorkerInitResponse(Message):
    worker_version: str = ""
    capabilities: dict[str, str] = field(default_factory=dict)
    result: StatusResult = field(default_factory=StatusResult)
    worker_metadata: WorkerMetadata | None = None


@dataclass
class FunctionMetadataResponse(Message):
    function_metadata_results: list[RpcFunctionMetadata] | None = None
    result: StatusResult = field(default_factory=StatusResult)
    use_default_metadata_indexing: bool = False


@dataclass
class FunctionLoadResponse(Message):
    function_id: str = ""
    result: StatusResult = field(default_factory=StatusResult)
    is_dependency_downloaded: bool = False


@dataclass
class InvocationResponse(Message):
    invocation_id: str = ""
    output_data: list[ParameterBinding] = field(default_factory=list)
    return_value: TypedData | None = None
    result: StatusResult = field(default_factory=StatusResult)
