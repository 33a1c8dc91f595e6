"""What raw input bytes are before they are parsed: compression, encoding, strict JSON."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from shared.intake.lines import LongLine
from shared.intake.problem import Problem

SNIFF_BYTES = 4096
# A parsed JSON value costs up to about 100 bytes per element (an empty object, a number, a
# short string) where its text takes 2 or 3: a 32 MiB line of `[],` parses into over 1 GiB.
# Long lines are counted first (C-fast), and parsed only if they hold few enough elements.
DENSE_FROM = 1 << 20  # shorter lines cannot hold enough to matter
MAX_ELEMENTS = 1_000_000  # more than any model's context window could take
STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"')  # a whole JSON string, never backtracking
# Magic numbers of the compressed and binary formats people upload by mistake.
SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "compressed", "gzip-compressed; upload the uncompressed JSONL or CSV file"),
    (
        b"PK\x03\x04",
        "compressed",
        "a zip archive (an Excel workbook is one too); upload the JSONL or CSV file itself, "
        "or export the sheet as 'CSV UTF-8'",
    ),
    (b"BZh", "compressed", "bzip2-compressed; upload the uncompressed JSONL or CSV file"),
    (b"\xfd7zXZ\x00", "compressed", "xz-compressed; upload the uncompressed JSONL or CSV file"),
    (b"\x28\xb5\x2f\xfd", "compressed", "zstd-compressed; upload the uncompressed file"),
    (b"7z\xbc\xaf\x27\x1c", "compressed", "a 7-Zip archive; upload the JSONL or CSV file itself"),
    (b"PAR1", "not_text", "a Parquet file; export it as JSONL or CSV (UTF-8)"),
    (b"\xff\xfe\x00\x00", "not_utf8", "UTF-32 text; save it as UTF-8"),
    (b"\x00\x00\xfe\xff", "not_utf8", "UTF-32 text; save it as UTF-8"),
    (
        b"\xff\xfe",
        "not_utf8",
        "UTF-16 text; save it as UTF-8 (Excel: 'CSV UTF-8'; PowerShell: -Encoding utf8)",
    ),
    (
        b"\xfe\xff",
        "not_utf8",
        "UTF-16 text; save it as UTF-8 (Excel: 'CSV UTF-8'; PowerShell: -Encoding utf8)",
    ),
)


def sniff(head: bytes) -> Problem | None:
    """A whole-file problem when the first bytes show the file is not UTF-8 text at all."""
    for magic, code, what in SIGNATURES:
        if head.startswith(magic):
            return Problem(None, code, f"The file is {what}. Nothing was submitted.")
    sample = head[:SNIFF_BYTES]
    if b"\x00" not in sample:
        return None
    if _looks_utf16(sample):
        what = "UTF-16 text without a byte-order mark; save it as UTF-8"
        return Problem(None, "not_utf8", f"The file is {what}. Nothing was submitted.")
    return Problem(
        None,
        "not_text",
        "The file is not text (it holds NUL bytes); upload JSONL or CSV saved as UTF-8.",
    )


def _looks_utf16(sample: bytes) -> bool:
    """ASCII-heavy UTF-16 has a NUL in every other byte."""
    even, odd = sample[0::2], sample[1::2]
    return max(even.count(0), odd.count(0)) > len(sample) // 4


def non_utf8(raw: bytes) -> str | None:
    """Why `raw` is not UTF-8 (with a guess at what it is), or None if it is."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start]
        guess = _guess_encoding(raw)
        return (
            f"is not UTF-8 text (byte 0x{byte:02X} at position {exc.start + 1}); "
            f"the file looks like {guess}: save it as UTF-8"
        )
    return None


def _guess_encoding(raw: bytes) -> str:
    try:
        raw.decode("cp1252")
    except UnicodeDecodeError:
        return "another encoding"
    return "Latin-1 / Windows-1252 (Excel's plain 'CSV')"


def json_problem(number: int, raw: bytes, exc: orjson.JSONDecodeError) -> Problem:
    """A message that says what to fix, for a line orjson refused."""
    reason = non_utf8(raw)
    if reason is not None:
        return Problem(number, "not_utf8", f"Line {number} {reason}.")
    detail = re.sub(r": line 1 column (\d+) \(char \d+\)", r" at column \1", str(exc))
    return Problem(
        number, "invalid_json", f"Line {number} is not valid JSON: {detail}{_hint(raw, exc)}"
    )


def _hint(raw: bytes, exc: orjson.JSONDecodeError) -> str:
    rest = raw[exc.pos : exc.pos + 9]
    if "depth limit" in str(exc):
        return " (it nests more than 1,024 levels deep)."
    if rest.startswith((b"NaN", b"Infinity", b"-Infinity")) or b"infinity" in str(exc).encode():
        return " (NaN and Infinity are not JSON: write null or a number)."
    if rest.startswith(b"'") or raw[exc.pos - 1 : exc.pos] == b"'":
        return " (JSON strings and keys need double quotes)."
    if "after document" in str(exc):
        return " (one JSON object per line: is a line break missing?)."
    return "."


def encode(value: Any) -> bytes | None:
    """orjson encoding, or None when the value nests too deeply for it (over 255 levels)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return None


def colons(value: Any) -> int:
    """How many ':' the compact JSON text of a parsed value holds."""
    if isinstance(value, str):
        return value.count(":")
    if isinstance(value, dict | list):
        encoded = encode(value)
        return encoded.count(b":") if encoded is not None else -1
    return 0


def duplicate_key(raw: bytes, parsed_colons: int) -> str | None:
    """The first key that appears twice in one object of `raw`, or None.

    orjson keeps the last of duplicate keys silently. A cheap count decides: every ':' in JSON
    text separates a key or sits inside a string, so when the parsed value has as many as the
    raw text (and no ':' hides as a \\u escape), no key was lost. Only otherwise does the slow
    stdlib parser run to find the key.
    """
    if raw.count(b":") == parsed_colons and (b"\\" not in raw or b"\\u003" not in raw):
        return None
    try:
        json.loads(raw, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as dup:
        return str(dup)
    except (ValueError, RecursionError):
        return None
    return None


class _DuplicateKey(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def duplicate_problem(number: int, key: str, custom_id: str | None = None) -> Problem:
    return Problem(
        number,
        "duplicate_key",
        f'Line {number}: key "{key[:100]}" appears twice in one object; readers disagree '
        "on which value counts, so keep only one.",
        custom_id,
    )


def too_dense(number: int, raw: bytes) -> Problem | None:
    """A line whose JSON holds so many elements that parsing it would take hundreds of MiB;
    None for any line that can be parsed safely. Commas and brackets inside strings (prose,
    pasted data) do not count."""
    if len(raw) < DENSE_FROM or _elements(raw) <= MAX_ELEMENTS:
        return None
    elements = _elements(STRING.sub(b'""', raw))
    if elements <= MAX_ELEMENTS:
        return None
    return Problem(
        number,
        "too_dense",
        f"Line {number} holds about {elements:,} JSON values (arrays, objects, list items); "
        f"a request may hold at most {MAX_ELEMENTS:,}, more than any model's context window "
        "takes. Nothing was submitted. Shorten the request, or split it into several.",
    )


def _elements(raw: bytes) -> int:
    return raw.count(b",") + raw.count(b"[") + raw.count(b"{")


def too_long(number: int, raw: LongLine, limit: int) -> Problem:
    return Problem(
        number,
        "line_too_long",
        f"Line {number} is {raw.length:,} bytes; a request may hold at most {limit:,} bytes "
        "(BATCH_MAX_BYTES, and never more than 32 MiB).",
    )
