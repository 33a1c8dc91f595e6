"""Host processes for the chaos run: `python -m devtools.host` as a user runs it. The runtime
library keeps one function app per process (and the app its clients, leases and caches), so
two independent workers need two processes; each can be killed (SIGKILL: no clean-up at all)
and started again."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from tests.conftest import API_KEY, ROOT

READY_SECONDS = 60.0


class HostProcess:
    """One host: its own process, log file and HTTP port; `start` again after a kill."""

    def __init__(self, name: str, env: dict[str, str], folder: Path) -> None:
        self.name, self.env, self.folder = name, env, folder
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.starts = 0
        self.ready = threading.Event()  # serving HTTP (cleared while it starts again)

    @property
    def logs(self) -> list[Path]:
        return sorted(self.folder.glob(f"host-{self.name}-*.log"))

    def start(self) -> HostProcess:
        self.ready.clear()
        self.starts += 1
        log = (self.folder / f"host-{self.name}-{self.starts}.log").open("w")
        args = [sys.executable, "-m", "devtools.host", "--port", "0", "--interval", "0.2"]
        args += ["--settings", str(self.folder / "no-local-settings.json")]
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=log, text=True
        )
        log.close()  # the child holds its own handle
        return self

    def wait_ready(self) -> None:
        """The host prints one line on stdout once it serves; the port is in it."""
        assert self.proc is not None and self.proc.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        stdout = self.proc.stdout
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            ready = lines.get(timeout=READY_SECONDS)
        except queue.Empty:
            raise AssertionError(f"host {self.name} did not start: see {self.logs[-1]}") from None
        assert "host ready" in ready, f"host {self.name}: {ready!r}; see {self.logs[-1]}"
        self.port = int(ready.split("127.0.0.1:")[1].split("/")[0])
        self.ready.set()

    def kill(self) -> None:
        """A crash: no lease released, no step finished, nothing flushed."""
        self.ready.clear()
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def cancel(self, job_id: str) -> int:
        """POST /api/jobs/{id}/cancel: 202 accepted, 409 too late, 404 not recorded yet."""
        url = f"http://127.0.0.1:{self.port}/api/jobs/{job_id}/cancel"
        request = urllib.request.Request(url, method="POST", data=b"")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                json.loads(answer.read())
                return int(answer.status)
        except urllib.error.HTTPError as refused:
            return int(refused.code)
        except (urllib.error.URLError, ConnectionError):
            return 0  # the host died meanwhile: the caller asks again


def host_env(base: dict[str, str], name: str, folder: Path) -> dict[str, str]:
    """The host's environment: the shared settings, its own telemetry file."""
    return {**base, "BATCHDROP_TELEMETRY_FILE": str(folder / f"telemetry-{name}.jsonl")}


def app_settings(azurite: Any, emulator_url: str) -> dict[str, str]:
    """The app's settings for both hosts: names of their own, the test suite's short leases
    and timeouts, a poll every second, parts of at most 8 requests."""
    tag = uuid.uuid4().hex[:8]
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "AZURE_OPENAI_ENDPOINT": emulator_url,
        "AZURE_OPENAI_API_KEY": API_KEY,
        "AZURE_OPENAI_DEPLOYMENT": "gpt-4o-mini-batch",
        "BATCH_INPUT_CONTAINER": f"chaos-in-{tag}",
        "BATCH_OUTPUT_CONTAINER": f"chaos-out-{tag}",
        "BATCH_WORK_CONTAINER": f"chaos-work-{tag}",
        "BATCH_JOBS_TABLE": f"chaos{tag}",
        "BATCH_COMPLETION_QUEUE": f"chaos-done-{tag}",
        "POLL_SCHEDULE": "* * * * * *",
        "BATCH_STATUS_MIN_SECONDS": "0",
        "BATCH_QUOTA_BACKOFF_SECONDS": "0.2",
        "BATCH_LEASE_SECONDS": "2",
        "BATCH_CLOCK_SKEW_SECONDS": "0",
        "AZURE_OPENAI_TIMEOUT_SECONDS": "2",
        "BATCH_SETTLE_SECONDS": "0",
        "BATCH_FILE_WAIT_SECONDS": "1",
        "BATCH_FILE_DEADLINE_SECONDS": "4",
        "BATCH_MAX_REQUESTS": "8",
        "BATCH_POLL_CONCURRENCY": "8",
    }
