"""Where a job's outputs and work files go: blob names never trusted as paths."""

from __future__ import annotations

import hashlib
import posixpath

MAX_BLOB_NAME = 1024
LONGEST_OUTPUT_FILE = len("/results.jsonl")
OUTPUT_FILES = ("results.jsonl", "errors.jsonl", "results.csv", "summary.json")
# In the work container under <job_id>/: every request in input order, for the merge.
WORK_INDEX = "requests.jsonl"
# ... and what the completion side needs to know about the input (format, columns, schema).
JOB_META = "job.json"
# In the work container: where the input sweep got to (it never collides with a job id).
SWEEP_STATE = "_sweep/state.json"


def output_prefix(name: str) -> str:
    """`dir/stem.ext` -> `dir/stem`: a safe folder for the outputs of input blob `name`.

    `.` and `..` segments and empty segments are neutralised so that tools which normalise
    paths cannot land outputs elsewhere; over-long names are shortened with a hash so every
    output name stays within Azure's 1,024-character limit and unique per input.
    """
    segments = [_safe_segment(s) for s in name.split("/") if s]
    if not segments:
        segments = ["_"]
    stem, _ext = posixpath.splitext(segments[-1])
    segments[-1] = stem or segments[-1]
    prefix = "/".join(segments)
    room = MAX_BLOB_NAME - LONGEST_OUTPUT_FILE
    if len(prefix) > room:
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        prefix = f"{prefix[: room - len(digest) - 1]}~{digest}"
    return prefix


def _safe_segment(segment: str) -> str:
    if segment in (".", ".."):
        return segment.replace(".", "_")
    return segment


def is_ignored(name: str) -> bool:
    """Files whose base name starts with `_` or `.` are settings or hidden files, not inputs."""
    base = name.rsplit("/", 1)[-1]
    return not base or base.startswith(("_", "."))


def work_prefix(job_id: str) -> str:
    return f"{job_id}/"
