"""Every blob and work-file name in one place; input blob names are never trusted as paths."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

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
# ... and, after a person's retry, the usage billed before it (results/billed.py).
BILLED = "billed.json"

# In the work container: where the input sweep got to (it never collides with a job id).
SWEEP_STATE = "_sweep/state.json"
# In the work container: per input content (its hash), the last job that ran it.
CONTENT_MARKER = "_content/{digest}.json"

# Folder settings: the nearest of these, from the input's folder up to the container root.
JOB_SETTINGS = "_job.json"

# The name an upload gets at the service: a retry after a lost answer finds it by this name.
UPLOAD_NAME = "batchdrop-{job_id}-{index:04d}-{attempt}.jsonl"


def output_prefix(name: str) -> str:
    """The output folder of input blob `name`: one folder per input, never shared.

    - `dir/stem.jsonl` -> `dir/stem` when the stem has no `.` or `~` (the common case);
    - any other plain name -> the name itself, extension included (`dir/x.csv`, `dir/x.v2.jsonl`,
      `dir/X.JSONL`), so `x.jsonl` and `x.csv` side by side get `x/` and `x.csv/`;
    - a name with empty, `.` or `..` segments (also percent-encoded), a backslash, no
      extension, or one that already ends like a hashed folder, and any folder too long for
      Azure's 1,024-character blob names -> a readable prefix plus `~` and 16 hex digits of
      the name's SHA-256.

    The three kinds cannot meet: the first has no `.` in its last segment, the second has
    one and does not end in `~<hash>`, the third always does.
    """
    segments = name.split("/")
    last = segments[-1]
    stem, dot, ext = last.rpartition(".")
    plain = (
        all(_plain(s) for s in segments)
        and bool(stem)
        and not HASHED.search(last)
        and unsafe_name(name) is None
    )
    if plain and ext == "jsonl" and "." not in stem and "~" not in stem:
        folder = "/".join([*segments[:-1], stem])
    elif plain and dot:
        folder = name
    else:
        folder = _hashed("/".join(_readable(s) for s in segments if s), name)
    if len(folder) > MAX_BLOB_NAME - LONGEST_OUTPUT_FILE:
        folder = _hashed(folder, name)
    return folder


HASHED = re.compile(r"~[0-9a-f]{16}$")


def _plain(segment: str) -> bool:
    return bool(segment) and segment not in (".", "..") and "\\" not in segment


def _readable(segment: str) -> str:
    """A segment that no tool reads as a path step: `.`, `..` (also percent-encoded) and
    backslashes neutralised."""
    if unsafe_name(segment) is not None and "\\" not in segment:
        return "_"
    return segment.replace("\\", "_")


def _hashed(readable: str, name: str) -> str:
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    room = MAX_BLOB_NAME - LONGEST_OUTPUT_FILE - len(digest) - 1
    return f"{readable[:room] or '_'}~{digest}"


def unsafe_name(name: str) -> str | None:
    """Why a blob name cannot be read safely by name, or None. HTTP clients drop `.` and `..`
    path segments (also written `%2E%2E`, or with backslashes, which some services read as
    `/`) while storage keeps them, so such a name could address a different blob."""
    if "\\" in name:
        return "it holds a backslash"
    for segment in name.split("/"):
        decoded = segment
        for _ in range(3):  # %252E%252E decodes twice
            decoded = unquote(decoded)
        if decoded in (".", ".."):
            return f"it holds a {segment!r} path segment"
    return None


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
