"""Property: any valid file, however it is written and chunked, round-trips through intake and the
merge with every custom_id exactly once, in input order, within every batch limit."""

from __future__ import annotations

import csv
import io
import json
import random
import tempfile
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.batches.batchfile import CHAT_URLS
from shared.intake.options import IntakeOptions
from shared.intake.read import BOM, Sink, read_input
from shared.intake.workfiles import WorkFiles
from shared.jobs.model import Part
from shared.results.outcomes import Outcomes
from tests.support import merge

DEFAULT = "dep-default"
text = st.text(max_size=60)
custom_ids = st.text(min_size=1, max_size=40).filter(lambda s: not s.isspace())
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant"]), "content": text}
)
body = st.fixed_dictionaries(
    {"messages": st.lists(message, min_size=1, max_size=3)},
    optional={
        "model": st.sampled_from(["dep-a", "dep-b"]),
        "temperature": st.floats(0, 2, allow_nan=False),
        "max_tokens": st.integers(1, 4000),
        "metadata": st.dictionaries(st.text(max_size=5), text, max_size=3),
    },
)
request = st.fixed_dictionaries(
    {"body": body},
    optional={
        "method": st.just("POST"),
        "url": st.sampled_from(sorted(CHAT_URLS)),
        "id": st.integers(),  # a tool's extra key: dropped
        "response": st.none(),
    },
)
layout = st.fixed_dictionaries(
    {
        "separators": st.sampled_from([(",", ":"), (", ", ": "), (" , ", " : ")]),
        "ensure_ascii": st.booleans(),
        "crlf": st.booleans(),
        "bom": st.booleans(),
        "blank_every": st.integers(0, 5),
        "final_newline": st.booleans(),
        "chunk": st.integers(1, 300),
        "max_requests": st.integers(1, 8),
        "max_bytes": st.integers(8_000, 50_000),
        "seed": st.integers(0, 2**32 - 1),
    }
)


class Collect(Sink):
    def __init__(self) -> None:
        self.rows: list[tuple[object, object]] = []

    def add(self, request, part):
        self.rows.append((request, part))


def write(rows: list[dict], how: dict) -> bytes:
    eol = "\r\n" if how["crlf"] else "\n"
    lines = []
    for i, row in enumerate(rows):
        if how["blank_every"] and i % how["blank_every"] == 0:
            lines.append("  ")
        lines.append(
            json.dumps(row, separators=how["separators"], ensure_ascii=how["ensure_ascii"])
        )
    data = eol.join(lines) + (eol if how["final_newline"] else "")
    return (BOM if how["bom"] else b"") + data.encode()


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ids=st.lists(custom_ids, min_size=1, max_size=30, unique=True), data=st.data(), how=layout)
def test_valid_native_files_round_trip_with_every_custom_id_once(ids, data, how):
    rows = [{"custom_id": cid, **data.draw(request)} for cid in ids]
    options = IntakeOptions(
        default_deployment=DEFAULT, max_requests=how["max_requests"], max_bytes=how["max_bytes"]
    )
    sink = Collect()
    intake = read_input(chunked(write(rows, how), how["chunk"]), sink, "jsonl", options)
    assert intake.ok, intake.problems
    assert [r.custom_id for r, _ in sink.rows] == ids
    for row, (req, part) in zip(rows, sink.rows, strict=True):
        expected = {**row["body"], "model": row["body"].get("model", DEFAULT)}
        native = orjson.loads(req.native(part.url))
        assert native == {
            "custom_id": row["custom_id"],
            "method": "POST",
            "url": part.url,
            "body": expected,
        }
    check_parts(intake, sink, options)
    check_merge(intake, sink, ids, how["seed"])
    check_work_files(sink)


def check_work_files(sink) -> None:
    """The work files on disk hold the same uploaded lines, and rebuild the same index."""
    with tempfile.TemporaryDirectory() as tmp:
        work = WorkFiles(Path(tmp))
        for req, part in sink.rows:
            work.add(req, part)
        work.close()
        rebuilt = b"".join(work.index_lines())
        uploaded = b"".join(p.read_bytes() for p in work.part_files())
    assert rebuilt == b"".join(b"".join(r.index_pieces(p.index)) for r, p in sink.rows)
    by_part = sorted(sink.rows, key=lambda row: row[1].index)  # stable: input order in a part
    assert uploaded == b"".join(r.native(p.url) + b"\n" for r, p in by_part)


def check_parts(intake, sink, options) -> None:
    for part in intake.parts:
        mine = [(r, p) for r, p in sink.rows if p is part]
        assert len(mine) == part.count <= options.max_requests
        assert {r.deployment for r, _ in mine} == {part.deployment}
        size = sum(len(r.native(part.url)) + 1 for r, _ in mine)
        assert size == part.bytes <= options.max_bytes


def check_merge(intake, sink, ids, seed) -> None:
    """The service answers in any order; the merge puts results back in input order."""
    index = [b"".join(r.index_pieces(p.index)) for r, p in sink.rows]
    answers = [
        (
            p.index,
            orjson.dumps(
                {
                    "custom_id": r.custom_id,
                    "response": {"status_code": 200, "body": {"echo": r.custom_id}},
                    "error": None,
                }
            ),
        )
        for r, p in sink.rows
    ]
    random.Random(seed).shuffle(answers)
    outcomes = Outcomes()
    for part in intake.parts:  # each batch's output file, in the service's order
        lines = [line for index, line in answers if index == part.index]
        outcomes.add_file([b"\n".join(lines) + b"\n"], f"output {part.index}", part.index)
    parts = {
        p.index: Part(p.index, p.deployment, p.url, p.count, remote_status="completed")
        for p in intake.parts
    }
    results = list(merge(index, outcomes, parts))
    assert [r["custom_id"] for r in results] == ids
    assert all(
        r["status"] == "succeeded" and r["response"]["echo"] == r["custom_id"] for r in results
    )


cell = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00\r"), max_size=30
)
column = st.from_regex(r"[A-Za-z][A-Za-z0-9_ ]{0,8}", fullmatch=True).filter(
    lambda s: s.strip() == s and s not in ("prompt", "custom_id")
)


@settings(max_examples=100, deadline=None)
@given(
    extra=st.lists(column, max_size=3, unique=True),
    rows=st.lists(
        st.tuples(cell.filter(str.strip), st.lists(cell, min_size=3, max_size=3)),
        min_size=1,
        max_size=20,
    ),
    crlf=st.booleans(),
    chunk=st.integers(1, 100),
)
def test_valid_csv_files_round_trip_with_every_row_once(extra, rows, crlf, chunk):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(["custom_id", "prompt", *extra])
    for i, (prompt, cells) in enumerate(rows):
        writer.writerow([f"id-{i}", prompt, *cells[: len(extra)]])
    sink = Collect()
    data = out.getvalue().encode()
    intake = read_input(
        chunked(data, chunk), sink, "csv", IntakeOptions(default_deployment=DEFAULT)
    )
    assert intake.ok, intake.problems
    assert [r.custom_id for r, _ in sink.rows] == [f"id-{i}" for i in range(len(rows))]
    for (prompt, cells), (req, _) in zip(rows, sink.rows, strict=True):
        assert req.input == {"prompt": prompt, **dict(zip(extra, cells, strict=False))}
    assert intake.input_columns == ["prompt", *extra]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
KEYS = [
    "custom_id",
    "method",
    "url",
    "body",
    "model",
    "messages",
    "input",
    "role",
    "content",
    "prompt",
]
objects = st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), json_values, max_size=6)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(objects | json_values, min_size=1, max_size=8),
    kind=st.sampled_from(["jsonl", "csv"]),
)
def test_no_input_crashes_intake(rows, kind):
    """Whatever the lines hold, intake answers with requests or problems, never an exception."""
    data = "\n".join(json.dumps(r) for r in rows).encode()
    intake = read_input([data], Collect(), kind, IntakeOptions(default_deployment=DEFAULT))
    assert intake.ok or intake.problems
    assert all(p.line is None or f"Line {p.line}" in p.message for p in intake.problems)
