"""JobMeta: what the completion side needs to know about a job's input (work file job.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class JobMeta:
    """Written once by prepare, read by completion to shape results.csv. `endpoint` is kept for
    reading older work files and for people; nothing reads it yet."""

    format: str = "native"  # native | prompt | csv | text
    input_columns: tuple[str, ...] = ()
    endpoint: str = "chat"  # chat | responses
    json_schema: dict[str, Any] | None = field(default=None, hash=False)
    delimiter: str = ","  # the input CSV's own, so that results.csv opens the same way
    # The _job.json this job used, {"name", "etag"}; None: it ran without one. Completion
    # compares it with what the folder holds then, to say when newer settings arrived.
    job_settings: dict[str, str] | None = field(default=None, hash=False)

    def to_json(self) -> bytes:
        data = asdict(self)
        data["input_columns"] = list(self.input_columns)
        return orjson.dumps(data)

    @classmethod
    def from_json(cls, data: bytes | None) -> JobMeta:
        """The record; defaults for a job prepared before job.json existed or held other keys."""
        doc = orjson.loads(data) if data else {}
        if not isinstance(doc, dict):
            return cls()
        schema = doc.get("json_schema")
        used = doc.get("job_settings")
        return cls(
            format=str(doc.get("format") or "native"),
            input_columns=tuple(str(c) for c in doc.get("input_columns") or ()),
            endpoint=str(doc.get("endpoint") or "chat"),
            json_schema=schema if isinstance(schema, dict) else None,
            delimiter=str(doc.get("delimiter") or ",")[:1],
            job_settings={str(k): str(v) for k, v in used.items()}
            if isinstance(used, dict)
            else None,
        )
