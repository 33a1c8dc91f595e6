"""Fixtures: Azurite (real storage, started here) and the Azure OpenAI emulator over HTTP."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from devtools.azurite import Azurite

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "test-emulator-key"
# Signs the Entra ID tokens of the managed-identity stand-in (tests/test_entra.py).
ENTRA_SECRET = "test-entra-signing-secret"
DEPLOYMENTS = frozenset({"gpt-4o-mini-batch", "gpt-4.1-batch"})


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    with Azurite() as running:
        yield running


@pytest.fixture(scope="session")
def emulator() -> Iterator[Any]:
    from devtools.emulator import Emulator, EmulatorConfig, Timings

    timings = Timings(
        file_processing=0.05, validating=0.05, in_progress=0.2, finalizing=0.05, cancelling=0.05
    )
    config = EmulatorConfig(
        port=0,
        api_key=API_KEY,
        entra_secret=ENTRA_SECRET,
        deployments=DEPLOYMENTS,
        timings=timings,
    )
    with Emulator(config) as running:
        yield running


@pytest.fixture
def app_env(azurite, emulator, monkeypatch) -> Callable[..., dict[str, str]]:
    """Point the app at Azurite and the emulator, with names unique to the test."""

    def configure(**overrides: str) -> dict[str, str]:
        from shared.config import Settings
        from shared.deps import default_deps
        from shared.storage import clients

        tag = uuid.uuid4().hex[:8]
        env = {
            "AzureWebJobsStorage": azurite.connection_string,
            "AZURE_OPENAI_ENDPOINT": emulator.url,
            "AZURE_OPENAI_API_KEY": API_KEY,
            "AZURE_OPENAI_DEPLOYMENT": "gpt-4o-mini-batch",
            "BATCH_INPUT_CONTAINER": f"in-{tag}",
            "BATCH_OUTPUT_CONTAINER": f"out-{tag}",
            "BATCH_WORK_CONTAINER": f"work-{tag}",
            "BATCH_JOBS_TABLE": f"jobs{tag}",
            "BATCH_COMPLETION_QUEUE": f"done-{tag}",
            "BATCH_FILE_WAIT_SECONDS": "5",
            "BATCH_STATUS_MIN_SECONDS": "0",
            "BATCH_QUOTA_BACKOFF_SECONDS": "0.2",
            "BATCH_LEASE_SECONDS": "2",
            "BATCH_CLOCK_SKEW_SECONDS": "0",
            # A crashed worker's lease covers its calls' timeout: keep both short here.
            "AZURE_OPENAI_TIMEOUT_SECONDS": "3",
            "BATCH_SETTLE_SECONDS": "0",
            **overrides,
        }
        for name in ("AZURE_OPENAI_API_VERSION",):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        default_deps.cache_clear()
        clients.ensure_resources(Settings.from_env())
        return env

    yield configure
    from shared.deps import default_deps

    default_deps.cache_clear()


@pytest.fixture
def host(azurite):
    """The local host around the Python Functions runtime, which loads function_app.py once
    per process (quick retries: a failed queue message is visible again after a second)."""
    from devtools.host import FunctionHost

    return FunctionHost(ROOT, azurite.connection_string, visibility_timeout=1, retry_delay=1)


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def read_jsonl(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in data.splitlines() if line.strip()]


def files_left(emulator: Any, job_id: str) -> list[str]:
    """I6: files at the service that belong to this job (its uploads and its batches' output
    and error files). Other tests' files are not counted: the emulator makes output files
    lazily, so a whole-service snapshot would depend on what ran before."""
    state = emulator.state()
    owned = {
        file_id
        for b in state["batches"]
        if (b.get("metadata") or {}).get("batchdrop_job") == job_id
        for file_id in (b.get("input_file_id"), b.get("output_file_id"), b.get("error_file_id"))
        if file_id
    }
    return [
        f["id"]
        for f in state["files"]
        if f["id"] in owned or str(f.get("filename", "")).startswith(f"batchdrop-{job_id}")
    ]


def run_until(host: Any, done: Callable[[], bool], timeout: float = 20.0) -> None:
    """Drive the timer and the queue like the host would, until `done()` or a timeout."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError("the job did not finish in time")
        host.fire_timer()
        host.drain_queue()
        time.sleep(0.05)
