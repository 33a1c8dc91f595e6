"""The work files of a job on local disk: one upload file per part, and the request index."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from shared.batches.batchfile import split_native
from shared.batches.split import PartPlan
from shared.intake.model import INDEX_HEAD, Request, Sink
from shared.storage.names import part_file

ORDER = "order.txt"  # local only: "<line> <part>[ <input JSON>]" per request, in input order
BATCH_PIECES = 1000  # pieces per write call (the OS takes at most 1,024 buffers at once)
BATCH_BYTES = 1 << 20  # ... or fewer: large requests are written as they come


class PieceWriter:
    """A file written from pieces of bytes with writev, so that bodies are never copied into
    a buffer first; about a MiB (or 1,000 pieces) is held at a time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._pieces: list[bytes] = []
        self._bytes = 0

    def write(self, pieces: Sequence[bytes], size: int = 0) -> None:
        """Queue `pieces`, of which `size` bytes are big (the rest are a few bytes each)."""
        self._pieces.extend(pieces)
        self._bytes += size
        if len(self._pieces) >= BATCH_PIECES or self._bytes >= BATCH_BYTES:
            self._flush()

    def _flush(self) -> None:
        pieces, self._pieces, self._bytes = self._pieces, [], 0
        written = os.writev(self._fd, pieces)
        if written < sum(map(len, pieces)):  # rare (signals, odd file systems): finish plainly
            rest = memoryview(b"".join(pieces))[written:]
            while rest:
                rest = rest[os.write(self._fd, rest) :]

    def close(self) -> None:
        if self._fd < 0:
            return
        try:
            if self._pieces:
                self._flush()
        finally:
            os.close(self._fd)
            self._fd = -1


class WorkFiles(Sink):
    """Writes one upload file per part and the order of the requests.

    The request index the merge reads (requests.jsonl: line, custom_id, part, request and the
    prompt file's input, in input order) repeats every body; rather than writing it to disk
    too, index_lines() rebuilds it from the part files while it is uploaded.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.order = PieceWriter(folder / ORDER)
        self.parts: dict[int, PieceWriter] = {}

    def add(self, request: Request, part: PartPlan) -> None:
        if request.input is None:
            self.order.write((b"%d %d\n" % (request.line, part.index),))
        else:
            given = request.input_json
            self.order.write((b"%d %d " % (request.line, part.index), given, b"\n"), len(given))
        out = self.parts.get(part.index)
        if out is None:
            out = self.parts[part.index] = PieceWriter(self.folder / part_file(part.index))
        out.write(request.native_pieces(part.url), len(request.body_json))

    def close(self) -> None:
        for stream in (self.order, *self.parts.values()):
            stream.close()

    def part_files(self) -> list[Path]:
        return [self.folder / part_file(index) for index in sorted(self.parts)]

    def index_lines(self) -> Iterator[bytes]:
        """requests.jsonl, line by line: each request's body is read back from its part."""
        readers: dict[int, BinaryIO] = {}
        try:
            with (self.folder / ORDER).open("rb") as order:
                for record in order:
                    line, part, *given = record.rstrip(b"\n").split(b" ", 2)
                    index = int(part)
                    if index not in readers:
                        readers[index] = (self.folder / part_file(index)).open("rb")
                    yield index_line(line, part, readers[index].readline(), given)
        finally:
            for reader in readers.values():
                reader.close()


def index_line(line: bytes, part: bytes, native: bytes, given: list[bytes]) -> bytes:
    """The index record of one request from its uploaded line."""
    id_json, body = split_native(native)
    head = INDEX_HEAD % (int(line), id_json, int(part))
    if given:
        return b'%b%b,"input":%b}\n' % (head, body, given[0])
    return b"%b%b}\n" % (head, body)
