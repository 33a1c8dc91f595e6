"""What an input's output folder holds now: which job last published there (the ownership
marker, storage/ownership.py) and which output files exist, with their sizes. Read-only."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient

from shared.storage.names import OUTPUT_FILES, output_prefix
from shared.storage.ownership import MARKER

MAX_MARKER = 4096  # the marker holds a job id and a version: never read more


@dataclass(frozen=True)
class FolderState:
    folder: str
    owner: str | None  # the job that last published here; None: nothing was published
    files: dict[str, int] = field(default_factory=dict)  # output file name -> size in bytes


def folder_state(container: ContainerClient, input_name: str) -> FolderState:
    """The folder of `input_name`'s outputs: four property reads and the marker, however
    many other files or nested folders it holds."""
    folder = output_prefix(input_name)
    files = {}
    for name in OUTPUT_FILES:
        blob = container.get_blob_client(f"{folder}/{name}")
        try:
            files[name] = int(blob.get_blob_properties().size)
        except ResourceNotFoundError:
            continue
    return FolderState(folder, _owner(container, folder), files)


def _owner(container: ContainerClient, folder: str) -> str | None:
    try:
        marker = container.download_blob(f"{folder}/{MARKER}", offset=0, length=MAX_MARKER)
        doc = orjson.loads(marker.readall() or b"{}")
    except (ResourceNotFoundError, orjson.JSONDecodeError):
        return None
    owner = doc.get("job_id") if isinstance(doc, dict) else None
    return str(owner) if owner else None
