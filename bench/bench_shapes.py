"""Adversarial input shapes: intake and merge of 200 MB files built to exhaust memory, ours
against the naive approach, each in its own process, against the 400 MiB target.

    .venv/bin/python bench/bench_shapes.py [--scale 1.0] [--quick] [--shapes a,b] [--keep DIR]
                                           [--no-naive]

Each shape is generated at about 200 MB (`--scale` multiplies that and the request limit;
`--quick` is --scale 0.01), then (see bench/README.md):

- intake: ours is shared.intake.read_input with the real work files; naive reads the whole
  file, splits it into lines, json.loads each and collects the custom_ids;
- merge, for a shape ours accepts: the work index ours wrote and one answer per request as
  Azure writes them (shuffled, one file per part); ours is Outcomes.add_file then
  MergeFiles.run, as completion runs them; naive reads everything into dicts.

A shape ours rejects shows the problem code instead of a merge: that is the clear rejection
the target allows. The benchmark fails (exit status 1) if ours crashes or goes over 400 MiB.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

MB = 1_000_000
SIZE = 200 * MB
LIMIT = 2_000_000  # the app's BATCH_MAX_FILE_REQUESTS
LONG_LINE = (32 << 20) - 1024  # just under the longest line read (32 MiB)
TARGET_MIB = 400
NAIVE_CAP = 4 << 30  # naive gets this much address space: past it, it fails as on a 4 GB box
DEPLOYMENT = "gpt-4o-mini-batch"
WORDS = "batch prompt model answer token quota deploy storage request result merge".split()


# ----- the shapes ---------------------------------------------------------------------------


def native(cid: str, content: str, **body: Any) -> bytes:
    message = {"role": "user", "content": content}
    line = {"custom_id": cid, "body": {"model": DEPLOYMENT, "messages": [message], **body}}
    return orjson.dumps(line) + b"\n"


def prose(rng: random.Random, size: int) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(400)) + ", "
    return (words * (size // len(words) + 1))[:size]


def tiny_lines(scale: float) -> Iterator[bytes]:
    """The most requests a file may hold, each as short as a request can be."""
    for n in range(round(LIMIT * scale)):
        yield b'{"custom_id":"%d","body":{"messages":[{"role":"user","content":"q"}]}}\n' % n


def tiny_over_limit(scale: float) -> Iterator[bytes]:
    """A .txt file of 200 MB of one-line prompts: 16.7 million requests."""
    line = b"what is 2+2\n"
    block = line * 10_000
    for _ in range(round(SIZE * scale) // len(block)):
        yield block


def requests_around(scale: float, middle: bytes) -> Iterator[bytes]:
    """Ordinary 2 KB requests making up 200 MB, with `middle` halfway."""
    rng = random.Random(7)
    count = max(2, round((SIZE * scale - len(middle)) / 2000))
    texts = [prose(rng, 1900) for _ in range(64)]
    for n in range(count):
        if n == count // 2:
            yield middle
        yield native(f"task-{n:07d}", texts[n % 64])


def nested_line(scale: float) -> Iterator[bytes]:
    """One 32 MiB line of nested arrays (parsed naively: over 1 GiB)."""
    size = round(LONG_LINE * scale) - 100
    arrays = b"[" + b"[[0]]," * (size // 6) + b"[[0]]]"  # two lists every six bytes
    head = b'{"custom_id":"nested","body":{"messages":[{"role":"user","content":"q"}],"x":'
    return requests_around(scale, head + arrays + b"}}\n")


def long_prose_line(scale: float) -> Iterator[bytes]:
    """The longest prompt accepted (about 2M tokens, 8 MB of prose, commas and all); a longer
    one exceeds any context window and is refused as such."""
    text = prose(random.Random(3), round(8_000_000 * scale))
    return requests_around(scale, native("long", text))


def deep_nesting(scale: float) -> Iterator[bytes]:
    """Lines nesting 100,000 objects deep, 200 MB of them."""
    depth = 100_000
    line = b'{"custom_id":"d","body":' + b'{"a":' * depth + b"1" + b"}" * (depth + 1) + b"\n"
    for n in range(max(1, round(SIZE * scale) // len(line))):
        yield line.replace(b'"d"', b'"d%d"' % n, 1)


def wide_objects(scale: float) -> Iterator[bytes]:
    """Requests whose body holds an object of 60,000 keys (about 1 MB a line)."""
    wide = {f"key{n}": n for n in range(60_000)}
    size = len(native("w", "q", extra=wide))
    for n in range(max(1, round(SIZE * scale) // size)):
        yield native(f"w{n}", "q", extra=wide)


def long_custom_ids(scale: float) -> Iterator[bytes]:
    """Short requests whose custom_ids are as long as allowed (512 characters)."""
    pad = "x" * 500
    for n in range(round(SIZE * scale) // 600):
        yield native(f"{n:012d}{pad}", "q")


SHAPES: dict[str, tuple[str, Callable[[float], Iterator[bytes]], str]] = {
    "tiny lines": ("jsonl", tiny_lines, "2,000,000 requests of 70 bytes (the limit)"),
    "tiny, over limit": ("text", tiny_over_limit, "16.7M one-line prompts (.txt)"),
    "32 MiB nested": ("jsonl", nested_line, "one 32 MiB line of nested arrays"),
    "8 MB prompt": ("jsonl", long_prose_line, "the longest prompt taken, among 2 KB requests"),
    "deep nesting": ("jsonl", deep_nesting, "lines nesting 100,000 levels deep"),
    "wide objects": ("jsonl", wide_objects, "bodies with 60,000 keys (1 MB lines)"),
    "long ids": ("jsonl", long_custom_ids, "512-character custom_ids"),
}
EXTENSION = {"jsonl": ".jsonl", "text": ".txt"}


# ----- the variants, each run in a child process --------------------------------------------


def intake_ours(path: Path, work: Path, kind: str, limit: int) -> dict[str, Any]:
    from shared.intake.options import IntakeOptions
    from shared.intake.read import read_input
    from shared.intake.workfiles import WorkFiles

    files = WorkFiles(work)
    options = IntakeOptions(default_deployment=DEPLOYMENT, max_file_requests=limit)
    try:
        intake = read_input(_chunks(path, 4 << 20), files, kind, options)
    finally:
        files.close()
    facts: dict[str, Any] = {"requests": intake.total, "ok": intake.ok}
    if not intake.ok:
        facts["problem"] = intake.problems[0].code if intake.problems else "?"
        return facts
    facts["parts"] = [[p.index, p.deployment, p.url, p.count] for p in intake.parts]
    facts["index_at"] = _peak_mib()  # the index is written for the merge, after measuring
    with (work / "requests.jsonl").open("wb") as index:
        for line in files.index_lines():
            index.write(line)
    return facts


def intake_naive(path: Path, work: Path, kind: str, limit: int) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        text = stream.read()
    ids = set()
    for n, line in enumerate(text.splitlines()):
        if line.strip():
            ids.add(json.loads(line)["custom_id"] if kind == "jsonl" else str(n))
    return {"requests": len(ids), "ok": True}


def merge_ours(path: Path, work: Path, kind: str, limit: int) -> dict[str, Any]:
    from shared.jobs.model import Part
    from shared.results.merge import MergeFiles
    from shared.results.outcomes import Outcomes
    from shared.results.retry import Attempts

    parts = {p[0]: Part(p[0], p[1], p[2], p[3], remote_status="completed") for p in _parts(work)}
    outcomes = Outcomes()
    for index in parts:
        outcomes.add_file(_chunks(work / f"out-{index}.jsonl", 1 << 20), "out", index)
    out = work / "ours"
    out.mkdir(exist_ok=True)
    files = MergeFiles(out, 3)
    files.run(work / "requests.jsonl", outcomes, parts, Attempts())
    return {"requests": files.tally.total, "ok": files.tally.succeeded == files.tally.total}


def merge_naive(path: Path, work: Path, kind: str, limit: int) -> dict[str, Any]:
    with (work / "requests.jsonl").open(encoding="utf-8") as stream:
        records = [json.loads(line) for line in stream.read().splitlines() if line.strip()]
    answers = {}
    for index, *_ in _parts(work):
        with (work / f"out-{index}.jsonl").open(encoding="utf-8") as stream:
            for line in stream.read().splitlines():
                answer = json.loads(line)
                answers[answer["custom_id"]] = answer
    rows = [{**r, "response": answers.get(r["custom_id"], {}).get("response")} for r in records]
    with (work / "naive-results.jsonl").open("w", encoding="utf-8") as results:
        for row in rows:
            results.write(json.dumps(row) + "\n")
    return {"requests": len(rows), "ok": True}


CHILDREN = {
    ("intake", "ours"): intake_ours,
    ("intake", "naive"): intake_naive,
    ("merge", "ours"): merge_ours,
    ("merge", "naive"): merge_naive,
}


def child(stage: str, variant: str, path: Path, work: Path, kind: str, limit: int) -> None:
    import shared.intake.read  # noqa: F401 - imports outside the clock, as in the app
    import shared.results.merge  # noqa: F401

    if variant == "naive":  # a shared machine: naive would take 8 GiB for the tiny lines
        resource.setrlimit(resource.RLIMIT_AS, (NAIVE_CAP, NAIVE_CAP))
    started = time.perf_counter()
    try:
        facts = CHILDREN[stage, variant](path, work, kind, limit)
    except (RecursionError, ValueError, MemoryError) as exc:
        facts = {"ok": False, "crashed": type(exc).__name__}
    facts["seconds"] = time.perf_counter() - started
    facts["peak_mib"] = facts.pop("index_at", None) or _peak_mib()
    print(json.dumps(facts))


def _peak_mib() -> float:
    """This process's peak RSS. Linux keeps ru_maxrss across exec, so a child started by a
    big parent would report the parent's size: the memory map's own high-water mark does not."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    [line] = [ln for ln in status.splitlines() if ln.startswith("VmHWM:")]
    return int(line.split()[1]) / 1024


def _chunks(path: Path, size: int) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(size):
            yield chunk


def _parts(work: Path) -> list[list[Any]]:
    return list(json.loads((work / "parts.json").read_text()))


# ----- the parent: generate, run each variant in its own process, report --------------------


def run(stage: str, variant: str, path: Path, work: Path, kind: str, limit: int) -> dict[str, Any]:
    args = [stage, variant, str(path), str(work), kind, str(limit)]
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:  # killed (memory) or a bug: either way, reported
        return {"ok": False, "crashed": f"exit {done.returncode}", "seconds": 0, "peak_mib": 0}
    return dict(json.loads(done.stdout.splitlines()[-1]))


def generate(folder: Path, name: str, scale: float) -> Path:
    kind, make, _ = SHAPES[name]
    path = folder / (name.replace(" ", "-").replace(",", "") + f"-{scale:g}{EXTENSION[kind]}")
    if not path.exists():
        with path.open("wb") as out:
            for piece in make(scale):
                out.write(piece)
    return path


def answers(work: Path, parts: list[list[Any]]) -> None:
    """One short answer per request, shuffled, in one file per part (as collect leaves them)."""
    by_part: dict[int, list[str]] = {p[0]: [] for p in parts}
    with (work / "requests.jsonl").open("rb") as index:
        for line in index:
            record = orjson.loads(line)
            by_part[record["part"]].append(record["custom_id"])
    rng = random.Random(11)
    for part, ids in by_part.items():
        rng.shuffle(ids)
        with (work / f"out-{part}.jsonl").open("wb") as out:
            for n, cid in enumerate(ids):
                out.write(answer(n, cid))
    (work / "parts.json").write_text(json.dumps(parts))


def answer(n: int, cid: str) -> bytes:
    message = {"role": "assistant", "content": "4"}
    body = {
        "id": f"chatcmpl-{n}",
        "object": "chat.completion",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
    }
    response = {"status_code": 200, "request_id": f"r{n}", "body": body}
    line = {"id": f"batch_req_{n}", "custom_id": cid, "response": response, "error": None}
    return orjson.dumps(line) + b"\n"


def measure(folder: Path, name: str, scale: float, naive: bool) -> list[dict[str, Any]]:
    kind = SHAPES[name][0]
    limit = max(1, round(LIMIT * scale))
    path = generate(folder, name, scale)
    rows = []
    variants = ("ours", "naive") if naive else ("ours",)
    with tempfile.TemporaryDirectory(prefix="shape-", dir=folder) as tmp:
        work = Path(tmp)
        for variant in variants:
            facts = run("intake", variant, path, work, kind, limit)
            rows.append({"stage": "intake", "variant": variant, **facts})
        ours = rows[0]
        if ours.get("ok"):
            answers(work, ours["parts"])
            for variant in variants:
                facts = run("merge", variant, path, work, kind, limit)
                rows.append({"stage": "merge", "variant": variant, **facts})
    for row in rows:
        row.update(shape=name, mb=path.stat().st_size / MB)
    return rows


def outcome(row: dict[str, Any]) -> str:
    if row.get("crashed") == "MemoryError":
        return f"out of memory at {NAIVE_CAP >> 30} GiB"
    if "crashed" in row:
        return f"crashed ({row['crashed']})"
    if "problem" in row:
        return f"rejected: {row['problem']}"
    return f"{row.get('requests', 0):,} requests"


def table(rows: list[dict[str, Any]]) -> None:
    print(
        f"  {'shape':18} {'MB':>5} {'stage':7} {'variant':8} {'wall s':>7} {'peak MiB':>9} "
        f"{'< 400 MiB':>9}  outcome"
    )
    for row in rows:
        met = "met" if 0 < row["peak_mib"] < TARGET_MIB else "MISSED"
        if row["variant"] == "naive":
            met = "-" if "crashed" not in row else "MISSED"
            met = "MISSED" if row["peak_mib"] >= TARGET_MIB else met
        print(
            f"  {row['shape']:18} {row['mb']:5.0f} {row['stage']:7} {row['variant']:8} "
            f"{row['seconds']:7.2f} {row['peak_mib']:9.0f} {met:>9}  {outcome(row)}"
        )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 200 MB shapes")
    parser.add_argument("--quick", action="store_true", help="tiny shapes (--scale 0.01)")
    parser.add_argument("--shapes", help="comma-separated names (default: all)")
    parser.add_argument("--no-naive", action="store_true", help="ours only (naive takes GiBs)")
    parser.add_argument("--keep", type=Path, help="folder for the generated files (kept)")
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        stage, variant, path, work, kind, limit = args.child
        return child(stage, variant, Path(path), Path(work), kind, int(limit))
    scale = 0.01 if args.quick else args.scale
    names = args.shapes.split(",") if args.shapes else list(SHAPES)
    print(f"adversarial shapes at scale {scale:g} (1 = 200 MB), each variant in its own process")
    for name in names:
        print(f"  {name:18} {SHAPES[name][2]}")
    with tempfile.TemporaryDirectory(prefix="bench-shapes-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        rows = [row for name in names for row in measure(folder, name, scale, not args.no_naive)]
    print()
    table(rows)
    ours = [r for r in rows if r["variant"] == "ours"]
    failed = [r for r in ours if "crashed" in r or r["peak_mib"] >= TARGET_MIB]
    print(f"\ntarget: intake and merge under {TARGET_MIB} MiB or a clear rejection, every shape: "
          f"{'met' if not failed else 'MISSED'}")  # fmt: skip
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
