"""Storage that accepts connections and never answers (a hung proxy, a stalled network path):
every `batchdrop` command says so in one line within its storage timeout, from the start and
in the middle of `watch`, instead of waiting out the SDK's minutes of retries."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from shared.deps import default_deps
from tests.conftest import ROOT, jsonl
from tests.integration.test_flow import chat, jobs, upload

# Azurite's published development key (not a secret): the fake storage must look like Azurite.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
WAIT = "2"  # --storage-timeout for these tests: seconds, so that they run in seconds


def connection_string(blob_port: int, table_port: int) -> str:
    def url(port: int) -> str:
        return f"http://127.0.0.1:{port}/devstoreaccount1"

    return (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={KEY};"
        f"BlobEndpoint={url(blob_port)};TableEndpoint={url(table_port)};"
    )


@pytest.fixture
def silent_storage() -> Iterator[str]:
    """A connection string naming a server that accepts connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    port = server.getsockname()[1]
    yield connection_string(port, port)
    stop.set()
    for held_conn in held:
        held_conn.close()
    server.close()


def test_storage_that_accepts_but_never_answers_is_one_line_within_the_timeout(silent_storage):
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "BATCHDROP_CONNECTION_STRING": silent_storage}
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "batchdrop_cli", "--storage-timeout", WAIT, "jobs"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    took = time.monotonic() - started
    lines = (run.stdout + run.stderr).strip().splitlines()
    assert run.returncode == 1 and len(lines) == 1, lines
    assert "does not answer" in lines[0] and "--storage-timeout" in lines[0], lines
    assert took < 2 * float(WAIT) + 5, took  # one try of 2 s and the interpreter's start


class Proxy:
    """Forwards TCP to a port; `close()` refuses from then on, `stall()` keeps every connection
    open and forwards nothing more (a hung network path)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.stalled = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                while self.stalled.is_set():
                    time.sleep(0.5)
                dst.sendall(data)
        except OSError:
            pass

    def stall(self) -> None:
        self.stalled.set()

    def close(self) -> None:
        try:
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass  # closed already
        self.server.close()
        for conn in self.conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            except OSError:
                pass


@pytest.fixture
def proxied(azurite) -> Iterator[tuple[Proxy, Proxy, str]]:
    blob, table = Proxy(azurite.ports["blob"]), Proxy(azurite.ports["table"])
    yield blob, table, connection_string(blob.port, table.port)
    blob.close()
    table.close()


@pytest.mark.parametrize("how", ["close", "stall"])
def test_storage_lost_mid_watch_is_one_line_within_seconds(how, app_env, host, emulator, proxied):
    env = app_env()
    deps = default_deps()
    emulator.set_faults([{"kind": "token_limit_exceeded", "stage": "create"}])  # stays open
    try:
        upload(deps, "down/w.jsonl", jsonl([chat("d1", "x")]))
        assert host.deliver_new_blobs() == 1
        [job] = jobs(deps)
        blob, table, conn = proxied
        run_env = {**os.environ, **env, "BATCHDROP_CONNECTION_STRING": conn, "COLUMNS": "120",
                   "BATCHDROP_STORAGE_TIMEOUT": WAIT}  # fmt: skip
        watcher = subprocess.Popen(
            [sys.executable, "-m", "batchdrop_cli", "watch", job.job_id, "--interval", "0.3"],
            cwd=ROOT, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(3)
        assert watcher.poll() is None, watcher.communicate()
        started = time.monotonic()
        for proxy in (blob, table):
            getattr(proxy, how)()
        try:
            out, err = watcher.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            watcher.kill()
            pytest.fail(f"`watch` still silent {time.monotonic() - started:.0f} s after")
        took = time.monotonic() - started
    finally:
        emulator.clear_faults()
    lines = err.strip().splitlines()
    assert watcher.returncode == 1 and len(lines) == 1, (out[-500:], lines[-10:])
    assert "does not answer" in lines[0], lines
    assert took < 2 * float(WAIT) + 3, took
