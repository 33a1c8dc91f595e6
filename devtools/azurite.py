"""Starts Azurite (from npm, pinned in package-lock.json) on free ports, in memory."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key: public, documented, and useless outside Azurite.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
LISTENING = re.compile(
    r"Azurite (Blob|Queue|Table) service is successfully listening at "
    r"http://[\d.]+:(\d+)"
)


class Azurite:
    """`with Azurite() as azurite: azurite.connection_string`."""

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.ports: dict[str, int] = {}
        self.process: subprocess.Popen[str] | None = None
        self.log: list[str] = []

    @staticmethod
    def executable() -> str:
        local = ROOT / "node_modules" / ".bin" / "azurite"
        found = str(local) if local.exists() else shutil.which("azurite")
        if not found:
            raise RuntimeError(
                "Azurite is not installed: run `npm ci` in the project folder "
                "(the README's test and demo commands do it for you)."
            )
        return found

    def start(self) -> Azurite:
        args = [
            self.executable(),
            "--inMemoryPersistence",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
        ]
        for service in ("blob", "queue", "table"):
            args += [f"--{service}Host", "127.0.0.1", f"--{service}Port", "0"]
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        deadline = time.monotonic() + self.timeout
        while len(self.ports) < 3:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("Azurite did not start:\n" + "\n".join(self.log[-20:]))
            time.sleep(0.05)
        return self

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.log.append(line.rstrip())
            found = LISTENING.search(line)
            if found:
                self.ports[found.group(1).lower()] = int(found.group(2))

    @property
    def connection_string(self) -> str:
        p = self.ports
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint=http://127.0.0.1:{p['blob']}/{ACCOUNT};"
            f"QueueEndpoint=http://127.0.0.1:{p['queue']}/{ACCOUNT};"
            f"TableEndpoint=http://127.0.0.1:{p['table']}/{ACCOUNT};"
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
