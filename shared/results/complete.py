"""Completing a job whose batches all ended: merge its work files, then either send the
retryable requests again (a new round) or publish the outputs."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from azure.core.exceptions import ResourceNotFoundError

from shared.batches.parallel import THREADS, in_parallel
from shared.jobs.meta import JobMeta
from shared.jobs.model import Job
from shared.jobs.part import Part
from shared.results.merge import MergeFiles
from shared.results.outcomes import Outcomes
from shared.results.publish import publish_outcome
from shared.results.results_csv import csv_spec
from shared.results.retry import Attempts, max_attempts_for, read_lines, send_retries
from shared.storage import blobs
from shared.storage.names import JOB_META, WORK_INDEX, collected_file, part_file, work_prefix

if TYPE_CHECKING:
    from shared.deps import Deps

log = logging.getLogger(__name__)

CHUNK = 1 << 20


def finish_round(deps: Deps, job: Job) -> Job:
    """Merge; a new round when requests are to be retried, else the outputs and a final state."""
    with tempfile.TemporaryDirectory(prefix="batchdrop-") as tmp:
        run = MergeRun(deps, job, Path(tmp))
        files = run.execute()
        if files.retry_count:
            return send_retries(deps, job, Path(tmp))
        return publish_outcome(deps, job, files, run.outcomes)


@dataclass
class MergeRun:
    """The work files brought to a temp folder and merged there in one pass."""

    deps: Deps
    job: Job
    folder: Path
    outcomes: Outcomes = field(default_factory=Outcomes)

    def execute(self) -> MergeFiles:
        attempts = self._load()
        index = self._download(WORK_INDEX)
        meta = self._meta()
        spec = csv_spec(meta, _first_request(index))
        max_attempts = max_attempts_for(self.job, self.deps.settings)
        files = MergeFiles(self.folder, max_attempts, spec, meta)
        files.run(index, self.outcomes, {p.index: p for p in self.job.parts}, attempts)
        return files

    def _load(self) -> Attempts:
        """The service's lines of every collected part, and which parts retried what. A few
        parts' files are downloaded at once; they are read in part order, then deleted."""
        attempts = Attempts()
        # This run's parts only: those before a person's retry were merged into the results
        # it started from, and their work files are gone.
        parts = self.job.current_parts
        for start in range(0, len(parts), THREADS):
            window = parts[start : start + THREADS]
            for part, (retried, found) in zip(
                window, in_parallel(self._fetch, window), strict=True
            ):
                if retried is not None:
                    ids = (orjson.loads(r)["custom_id"] for r in read_lines(retried))
                    attempts.add_retry_part(ids, part.index)
                for path in found:
                    self.outcomes.add_file(_chunks(path), f"batch {part.batch_id}", part.index)
                    path.unlink()
        return attempts

    def _fetch(self, part: Part) -> tuple[Path | None, list[Path]]:
        """A part's uploaded file if it was a retry round's, and its output and error files."""
        first_round = self.job.first_round
        retried = self._download(part_file(part.index)) if part.round > first_round else None
        found = [self._maybe(collected_file(kind, part.index)) for kind in ("out", "err")]
        return retried, [path for path in found if path is not None]

    def _meta(self) -> JobMeta:
        path = self._maybe(JOB_META)
        return JobMeta.from_json(path.read_bytes() if path else None)

    def _download(self, name: str) -> Path:
        path = self.folder / name
        blobs.download_to(self.deps.work, work_prefix(self.job.job_id) + name, path)
        return path

    def _maybe(self, name: str) -> Path | None:
        """Files that exist only sometimes: error files, job.json for older jobs."""
        try:
            return self._download(name)
        except ResourceNotFoundError:
            (self.folder / name).unlink(missing_ok=True)
            return None


def _first_request(index: Path) -> dict[str, Any] | None:
    with index.open("rb") as stream:
        line = stream.readline()
    return orjson.loads(line)["request"] if line.strip() else None


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            yield chunk
