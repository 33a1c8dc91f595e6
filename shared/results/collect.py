"""Collecting: once a batch ends, its output and error files are copied to work storage and
deleted at the service, so the merge can run again (byte-identical) and the files go at once."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from shared.batches.access import check_same_resource
from shared.batches.files import delete_part_files
from shared.batches.parallel import each_part
from shared.crash import crashpoint
from shared.jobs.model import Job
from shared.jobs.part import Part
from shared.storage import blobs
from shared.storage.names import collected_file, work_prefix
from shared.storage.work import check_work_files

if TYPE_CHECKING:
    from shared.deps import Deps

KINDS = ("out", "err")


def collect(deps: Deps, job: Job) -> Job:
    """Copy the files of every ended, not yet collected part (several at a time), next to the
    job's other work files (never into a work container that does not hold them:
    shared/storage/work.py)."""
    check_work_files(deps.work, job.job_id, job.work_container)
    ended = [p for p in job.parts if p.done and not p.collected]
    return each_part(deps, job, ended, _collect_part)


def _collect_part(deps: Deps, job: Job, part: Part) -> Job:
    # Made at another endpoint: that endpoint must know the batch, or the setting is wrong.
    check_same_resource(deps.service, part, deps.settings)
    with tempfile.TemporaryDirectory(prefix="batchdrop-") as tmp:
        for kind, file_id in zip(KINDS, (part.output_file_id, part.error_file_id), strict=True):
            if file_id:
                path = Path(tmp) / collected_file(kind, part.index)
                deps.service.download(file_id, path)
                blobs.upload_file(deps.work, work_prefix(job.job_id) + path.name, path)
    crashpoint("after_output_collected")
    job = deps.store.save(job.with_part(replace(part, collected=True)))
    delete_part_files(deps.service, part)
    return job
