"""Every blob and work-file name in one place; input blob names are never trusted as paths."""

from __future__ import annotations

import hashlib
import posixpath

MAX_BLOB_NAME = 1024
LONGEST_OUTPUT_FILE = len("/results.jsonl")

# In the output container under output_prefix(input name): what users read.
RESULTS = "results.jsonl"
ERRORS = "errors.jsonl"
RESULTS_CSV = "results.csv"
SUMMARY = "summary.json"  # written last: its presence means the rest is complete
OUTPUT_FILES = (RESULTS, ERRORS, RESULTS_CSV, SUMMARY)

# In the work container under work_prefix(job_id): every request in input order, for the merge,
WORK_INDEX = "requests.jsonl"
# ... what the completion side needs to know about the input (jobs.meta.JobMeta),
JOB_META = "job.json"
# ... and, per part, its upload file and the service's output and error files once collected.
PART_FILE = "part-{index:04d}.jsonl"
COLLECTED_FILE = "{kind}-{index:04d}.jsonl"  # kind: out | err

# ... and, once completion looked, whether newer job settings arrived (so a rerun says the same).
SETTINGS_CHECK = "settings-check.json"

# In the work container: where the input sweep got to (it never collides with a job id).
SWEEP_STATE = "_sweep/state.json"
# In the work container: per input content (its hash), the last job that ran it.
CONTENT_MARKER = "_content/{digest}.json"

# Folder settings: the nearest of these, from the input's folder up to the container root.
JOB_SETTINGS = "_job.json"

# The name an upload gets at the service: a retry after a lost answer finds it by this name.
UPLOAD_NAME = "batchdrop-{job_id}-{index:04d}-{attempt}.jsonl"


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


def part_file(index: int) -> str:
    """The work file holding part `index`'s requests, as uploaded to the service."""
    return PART_FILE.format(index=index)


def collected_file(kind: str, index: int) -> str:
    """The work copy of part `index`'s output (`out`) or error (`err`) file."""
    return COLLECTED_FILE.format(kind=kind, index=index)


def upload_name(job_id: str, index: int, attempt: int) -> str:
    return UPLOAD_NAME.format(job_id=job_id, index=index, attempt=attempt)


def settings_candidates(name: str) -> list[str]:
    """Where the `_job.json` of input `name` may be, nearest folder first, up to the root."""
    folders = name.split("/")[:-1]
    return ["/".join([*folders[:depth], JOB_SETTINGS]) for depth in range(len(folders), -1, -1)]


def content_marker(digest: str) -> str:
    return CONTENT_MARKER.format(digest=digest)
