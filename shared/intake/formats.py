"""The file-kind rule (the name's extension decides how a file is read) and the one clear
problem for a file whose content is another format than its name says."""

from __future__ import annotations

from typing import Any

import orjson

from shared.intake.lines import LongLine
from shared.intake.problem import Problem

# The extension decides the reader; nothing else is guessed from the content.
KINDS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",  # CSV whose separator is a tab, whatever the header holds
    ".txt": "text",
}
TABLES = {"csv": None, "tsv": "\t"}  # the CSV kinds and the separator each fixes (None: chosen)
UNSUPPORTED = "unsupported"
EXTENSIONS = ".jsonl, .json, .csv, .tsv or .txt"
FIX_JSONL = (
    "write one request object per line (JSON Lines, e.g. `jq -c '.[]' file.json > file.jsonl`), "
    "or name the file .json to have it read as it is"
)


def file_kind(name: str) -> str:
    """jsonl | json | csv | tsv | text by the name's extension; `unsupported` for any other."""
    base = name.rsplit("/", 1)[-1].lower()
    dot = base.rfind(".")
    return KINDS.get(base[dot:], UNSUPPORTED) if dot > 0 else UNSUPPORTED


def unsupported(head: bytes) -> Problem:
    """The file's name says nothing batchdrop reads; the content's likely format names the fix."""
    return Problem(
        None,
        "unsupported_file_type",
        f"batchdrop reads files named {EXTENSIONS}; this file's name ends in none of them. "
        f"{_looks_like(head)} Nothing was submitted.",
    )


def _looks_like(head: bytes) -> str:
    text = head.lstrip()
    first = text.split(b"\n", 1)[0].strip()
    if text.startswith(b"["):
        return "It looks like a JSON array: name it .json."
    if text.startswith(b"{"):
        if _is_object(first):
            return "It looks like JSON Lines: name it .jsonl."
        return "It looks like JSON: name it .json."
    if any(sep in first for sep in (b",", b";", b"\t")):
        return "It looks like CSV: name it .csv (a header row first)."
    return "It looks like plain text: name it .txt to send one prompt per line."


def looks_like_object(line: bytes) -> bool:
    """A whole JSON object, or the first line of a pretty-printed one."""
    text = line.strip()
    if not text.startswith(b"{"):
        return False
    try:
        return isinstance(orjson.loads(text), dict)
    except orjson.JSONDecodeError as exc:
        return unfinished(text, exc)


def _is_object(line: bytes) -> bool:
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False


def json_array_in_jsonl(number: int) -> Problem:
    return Problem(
        number,
        "json_array_not_jsonl",
        f"Line {number} starts a JSON array, but a .jsonl file holds one JSON object per line; "
        f"{FIX_JSONL}.",
    )


def multiline_json_in_jsonl(number: int) -> Problem:
    return Problem(
        number,
        "multiline_json_not_jsonl",
        f"Line {number} starts a JSON object that continues on the next lines (pretty-printed "
        f"JSON), but a .jsonl file holds one whole object per line; {FIX_JSONL}.",
    )


def json_in_text(number: int) -> Problem:
    return Problem(
        number,
        "json_in_text_file",
        f"Line {number} is a JSON object, but a .txt file is read as one plain prompt per line; "
        "name the file .jsonl (one object per line) or .json.",
    )


def unfinished(raw: bytes, exc: orjson.JSONDecodeError) -> bool:
    """Whether the line opens an object or array that pretty-printing continues on the next
    lines (it ends where such output breaks lines), rather than one cut-off line."""
    line = raw.strip()
    return (
        line[:1] in (b"{", b"[")
        and line[-1:] in (b"{", b"[", b",", b":")
        and "end of data" in str(exc)
    )


def not_an_object(number: int, position: int, raw: bytes, in_array: bool) -> Problem | None:
    """A value of a .json file that is valid JSON but not an object: its position and the fix
    (None for an object, and for text that is not JSON, which the JSON checks explain)."""
    if type(raw) is LongLine or raw[:1] == b"{":
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    where = f"item {position} of the JSON array" if in_array else f"value {position} of the file"
    if isinstance(data, str):
        fix = 'write it as {"prompt": "..."}, or put plain prompts one per line in a .txt file'
    else:
        fix = (
            'each must be a batch request (with "body") or a prompt object such as '
            '{"prompt": "..."}'
        )
    return Problem(
        number,
        "not_an_object",
        f"Line {number}: {where} is {_json_type(data)}, not an object; {fix}.",
    )


def _json_type(data: Any) -> str:
    if isinstance(data, str):
        return "a string"
    if isinstance(data, bool):
        return "true or false"
    if isinstance(data, int | float):
        return "a number"
    return "an array" if isinstance(data, list) else "null"
