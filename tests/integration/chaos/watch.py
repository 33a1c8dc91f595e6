"""The job table sampled while the chaos run goes on: every state change it sees, checked
against ALLOWED afterwards (I5), and whether everything has settled."""

from __future__ import annotations

import threading
from typing import Any


class Watcher:
    """Samples every job's state from the table twice a second: the changes it sees are
    checked against ALLOWED afterwards (I5)."""

    def __init__(self, table: Any) -> None:
        self.table = table
        self.last: dict[str, str] = {}
        self.transitions: list[tuple[str, str, str]] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="chaos-watcher", daemon=True)

    def _run(self) -> None:
        while not self.stopped.wait(0.5):
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - a missed sample only coarsens the check
                continue

    def sample(self) -> dict[str, tuple[str, bool]]:
        rows = self.table.query_entities(
            "RowKey eq 'job'", select=["PartitionKey", "Status", "Cleaned"]
        )
        seen = {r["PartitionKey"]: (r["Status"], bool(r.get("Cleaned"))) for r in rows}
        for job_id, (status, _) in seen.items():
            before = self.last.get(job_id)
            if before is not None and before != status:
                self.transitions.append((job_id, before, status))
            self.last[job_id] = status
        return seen
