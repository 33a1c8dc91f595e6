"""Drives the `azure-functions-runtime` library in process, as the Functions host's gRPC layer
(through the Python proxy worker) does: worker init, functions metadata, function load and
invocation, each a protocol message in and one out.

The library keeps the indexed app in module globals, so a process holds one function app:
`RuntimeWorker.start(app_dir)` loads it once and returns the same worker afterwards.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import threading
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import azure_functions_runtime as runtime

from . import protocol

HOST_VERSION = "4.1000.0 (devtools.host)"


class AppLoadError(RuntimeError):
    """function_app.py could not be indexed or loaded: Azure would find 0 functions."""


class InvocationFailed(RuntimeError):
    """The runtime reported a failed invocation before or around the function itself."""


@dataclass
class WorkerRequest:
    """The proxy worker's envelope around each message (`request.request`, `.properties`)."""

    name: str
    request: protocol.StreamingMessage
    properties: dict[str, Any] | None = None


@dataclass(frozen=True)
class LoadedFunction:
    """A function as the runtime reported it: its id and its bindings' JSON."""

    name: str
    function_id: str
    bindings: tuple[dict[str, Any], ...]

    @property
    def trigger(self) -> dict[str, Any]:
        return next(b for b in self.bindings if str(b["type"]).endswith("Trigger"))

    @property
    def trigger_type(self) -> str:
        return str(self.trigger["type"])


class _RecordingExecutor(ThreadPoolExecutor):
    """One invocation's thread. The runtime reports a failure only as text; this keeps the
    exception the function raised, so an in-process caller (a test) can get it back."""

    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="invocation")
        self.raised: BaseException | None = None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        def call() -> Any:
            try:
                return fn(*args, **kwargs)
            except BaseException as exc:
                self.raised = exc
                raise

        return super().submit(call)


class RuntimeWorker:
    """The function app as the runtime library loaded it."""

    _started: ClassVar[RuntimeWorker | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, app_dir: Path) -> None:
        self.app_dir = app_dir
        self.capabilities: dict[str, str] = {}
        self.metadata: list[protocol.RpcFunctionMetadata] = []
        self.load_responses: list[protocol.FunctionLoadResponse] = []
        self.functions: dict[str, LoadedFunction] = {}

    @classmethod
    def start(cls, app_dir: Path | str) -> RuntimeWorker:
        """Init, index and load the app in `app_dir` (once per process)."""
        app_dir = Path(app_dir).resolve()
        with cls._lock:
            if cls._started is None:
                worker = cls(app_dir)
                worker._load()
                cls._started = worker
            elif cls._started.app_dir != app_dir:
                raise AppLoadError(
                    f"this process already runs the app in {cls._started.app_dir}; the Python "
                    f"runtime loads one function app per process (start another for {app_dir})"
                )
            return cls._started

    def _load(self) -> None:
        if str(self.app_dir) not in sys.path:
            sys.path.insert(0, str(self.app_dir))  # the worker imports function_app from here
        init = self._send(runtime.worker_init_request, self._init_message(), with_protos=True)
        _check(init.result, "indexing function_app.py")
        self.capabilities = dict(init.capabilities)
        request = protocol.FunctionsMetadataRequest(function_app_directory=str(self.app_dir))
        found = self._send(
            runtime.functions_metadata_request,
            protocol.StreamingMessage(request_id=_new_id(), functions_metadata_request=request),
        )
        _check(found.result, "reading the functions' metadata")
        self.metadata = list(found.function_metadata_results or [])
        if not self.metadata:
            raise AppLoadError(
                f"0 functions found in {self.app_dir / 'function_app.py'}: define a top-level "
                "func.FunctionApp() and decorate at least one function with a trigger"
            )
        for meta in self.metadata:
            self._load_function(meta)

    def _init_message(self) -> protocol.StreamingMessage:
        request = protocol.WorkerInitRequest(
            host_version=HOST_VERSION,
            worker_directory=str(Path(runtime.__file__).parent),
            function_app_directory=str(self.app_dir),
        )
        return protocol.StreamingMessage(request_id=_new_id(), worker_init_request=request)

    def _load_function(self, meta: protocol.RpcFunctionMetadata) -> None:
        request = protocol.FunctionLoadRequest(function_id=meta.function_id, metadata=meta)
        message = protocol.StreamingMessage(request_id=_new_id(), function_load_request=request)
        response = self._send(runtime.function_load_request, message)
        _check(response.result, f"loading function {meta.name}")
        self.load_responses.append(response)
        bindings = tuple(json.loads(raw) for raw in meta.raw_bindings)
        self.functions[meta.name] = LoadedFunction(meta.name, meta.function_id, bindings)

    def _send(
        self,
        handler: Callable[[WorkerRequest], Coroutine[Any, Any, Any]],
        message: protocol.StreamingMessage,
        with_protos: bool = False,
    ) -> Any:
        properties = {"protos": protocol, "host": "127.0.0.1"} if with_protos else None
        kind = message.WhichOneof("content") or "message"
        return asyncio.run(handler(WorkerRequest(kind, message, properties)))

    def by_trigger(self, trigger_type: str) -> list[LoadedFunction]:
        return [f for f in self.functions.values() if f.trigger_type == trigger_type]

    def invoke(
        self,
        function: LoadedFunction,
        input_data: list[protocol.ParameterBinding],
        trigger_metadata: dict[str, protocol.TypedData] | None = None,
    ) -> protocol.InvocationResponse:
        """One invocation. A failure raises the function's own exception when it raised one,
        else InvocationFailed with the runtime's message (a binding that could not be built)."""
        request = protocol.InvocationRequest(
            invocation_id=str(uuid.uuid4()),
            function_id=function.function_id,
            input_data=input_data,
            trigger_metadata=trigger_metadata or {},
        )
        executor = _RecordingExecutor()
        message = protocol.StreamingMessage(request_id=_new_id(), invocation_request=request)
        response: protocol.InvocationResponse = asyncio.run(_invoke(message, executor))
        if response.result.status != protocol.StatusResult.Success:
            if executor.raised is not None:
                raise executor.raised
            raise InvocationFailed(f"{function.name}: {_message(response.result)}")
        return response


async def _invoke(
    message: protocol.StreamingMessage, executor: ThreadPoolExecutor
) -> protocol.InvocationResponse:
    # The proxy worker starts the library's shared thread pool; this host does not, so the
    # library runs a sync function on the loop's default executor: this invocation's own.
    asyncio.get_running_loop().set_default_executor(executor)
    response: protocol.InvocationResponse = await runtime.invocation_request(
        WorkerRequest("FunctionInvocationRequest", message)
    )
    return response


# What to change, for the runtime's own messages that name the problem but not the fix.
HINTS = (
    (
        r"declared in Python but not in the function definition|not present in Python",
        "make the decorator's arg_name the same as the function's parameter name",
    ),
    (
        r"Python (type )?annotation",
        "annotate the parameter with the binding's type: func.TimerRequest, func.QueueMessage, "
        "func.HttpRequest, or for the SDK-type blob binding "
        "azurefunctions.extensions.bindings.blob.BlobClient (not azure.storage.blob.BlobClient)",
    ),
    (
        "Cannot find module",
        "install the module and pin it in requirements.txt: Azure installs only what is listed",
    ),
)


def hint(message: str) -> str:
    """The fix to add to a load failure, if the message is one we know."""
    found = [fix for pattern, fix in HINTS if re.search(pattern, message)]
    return f" (fix: {'; '.join(found)})" if found else ""


def _check(result: protocol.StatusResult, what: str) -> None:
    if result.status != protocol.StatusResult.Success:
        message = _message(result)
        raise AppLoadError(f"{what} failed: {message}{hint(message)}")


def _message(result: protocol.StatusResult) -> str:
    return result.exception.message if result.exception else result.result or "no reason given"


def _new_id() -> str:
    return str(uuid.uuid4())
