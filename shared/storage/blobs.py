"""Streaming reads and atomic writes of blobs."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings

CONTENT_TYPES = {
    ".jsonl": "application/jsonl; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
}


def read_chunks(
    service: BlobServiceClient, container: str, name: str, etag: str
) -> Iterator[bytes]:
    """Stream one blob version as stored (a blob saved with `Content-Encoding: gzip` stays
    compressed, so the compression check sees it); raises ResourceModifiedError if it changed
    since `etag`."""
    blob = service.get_blob_client(container, name)
    downloader = blob.download_blob(
        etag=etag,
        match_condition=MatchConditions.IfNotModified,
        max_concurrency=1,
        decompress=False,
    )
    yield from downloader.chunks()


def download_to(container: ContainerClient, name: str, dest: Path) -> None:
    with dest.open("wb") as out:
        container.download_blob(name, max_concurrency=2).readinto(out)


def upload_file(container: ContainerClient, name: str, path: Path) -> None:
    """Write a blob from a local file in one commit: readers see the old or the new, never half.

    Block blobs become visible only when their block list is committed, so a large upload that
    dies midway leaves the previous version in place.
    """
    content_type = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
    with path.open("rb") as data:
        container.upload_blob(
            name,
            data,
            overwrite=True,
            max_concurrency=2,
            content_settings=ContentSettings(content_type=content_type),
        )


def names_under(container: ContainerClient, prefix: str) -> list[str]:
    """The names of the blobs under `prefix`; none when the container is gone."""
    try:
        return [b.name for b in container.list_blobs(name_starts_with=prefix)]
    except ResourceNotFoundError:
        return []


def delete_quietly(container: ContainerClient, name: str) -> None:
    """Delete one blob; one already gone is nothing to do."""
    try:
        container.delete_blob(name, delete_snapshots="include")
    except ResourceNotFoundError:
        pass


class StreamOf(io.RawIOBase):
    """A readable stream over an iterator of byte strings, for uploads of unknown length
    (the SDK's own wrapper concatenates piece by piece, which is quadratic)."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._left = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        want = size if size is not None and size >= 0 else 1 << 62
        parts, got = [self._left], len(self._left)
        for piece in self._pieces:
            parts.append(piece)
            got += len(piece)
            if got >= want:
                break
        data = b"".join(parts)
        self._left = data[want:]
        return data[:want]
