"""Merge benchmark: batchdrop's merge against the naive approach and the floor, side by side.

    .venv/bin/python bench/bench_merge.py [--scale 1.0] [--quick] [--sizes 1,2] [--repeat 3]
                                          [--keep DIR]

Generates a full-size result (100,000 chat requests: a 197 MB work index, 98,000 answers in
75 MB and 2,000 error lines, in shuffled order), then runs each variant in its own
subprocess and reports wall time, CPU time and peak RSS (see bench/README.md):

- naive: what public samples do: read whole files, split lines, json.loads each, dict by
  custom_id, then write the results;
- floor: parse every index and output line once with orjson and write the merged bytes,
  nothing else (no join, no results to build);
- ours: shared.results (Outcomes.add_file, then MergeFiles.run), the code completion runs.

Sizes are multiples of the scaled size, to show that peak memory does not grow with the file.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import merge_data  # noqa: E402
from merge_data import ERRORS, INDEX, OUTPUT  # noqa: E402

VARIANTS = ("naive", "floor", "ours")
MAX_ATTEMPTS = 3
TARGET_VS_NAIVE = 4.0
TARGET_VS_FLOOR = 1.5
TARGET_PEAK_MIB = 150


# ----- the variants, each run in a child process ------------------------------------------


def naive(work: Path, out: Path) -> dict[str, Any]:
    with open(work / INDEX, encoding="utf-8") as stream:
        records = [json.loads(line) for line in stream.read().splitlines() if line.strip()]
    answers = {}
    for name in (OUTPUT, ERRORS):
        with open(work / name, encoding="utf-8") as stream:
            for line in stream.read().splitlines():
                if line.strip():
                    answer = json.loads(line)
                    answers[answer["custom_id"]] = answer
    rows = [naive_row(record, answers.get(record["custom_id"])) for record in records]
    with open(out / "results.jsonl", "w", encoding="utf-8") as results:
        for row in rows:
            results.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")
    with open(out / "errors.jsonl", "w", encoding="utf-8") as errors:
        for row in rows:
            if row["status"] != "succeeded":
                errors.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")
    return {"succeeded": sum(r["status"] == "succeeded" for r in rows), "total": len(rows)}


def naive_row(record: dict[str, Any], answer: dict[str, Any] | None) -> dict[str, Any]:
    response = (answer or {}).get("response") or {}
    status, body = response.get("status_code"), response.get("body")
    error = None
    if answer is None:
        error = {"code": "missing_from_output", "message": "No result.", "status_code": None}
    elif not 200 <= (status or 0) < 300:
        detail = body.get("error") or {}
        error = {"code": detail["code"], "message": detail["message"], "status_code": status}
    choices = (body or {}).get("choices") or [{}]
    return {
        "custom_id": record["custom_id"],
        "line": record["line"],
        "status": "failed" if error else "succeeded",
        "request": record["request"],
        "response": body,
        "error": error,
        "finish_reason": choices[0].get("finish_reason"),
        "attempts": 1,
    }


def floor(work: Path, out: Path) -> dict[str, Any]:
    import orjson

    total = 0
    with (
        open(work / INDEX, "rb") as index,
        open(out / "results.jsonl", "wb", buffering=1 << 20) as results,
    ):
        for record, answer in zip(index, _answers(work), strict=False):
            orjson.loads(record)
            orjson.loads(answer)
            results.write(record[:-2] + b',"response":' + answer[:-1] + b"}\n")
            total += 1
    return {"total": total}


def _answers(work: Path) -> Iterator[bytes]:
    for name in (OUTPUT, ERRORS):
        with open(work / name, "rb") as stream:
            yield from stream


def ours(work: Path, out: Path) -> dict[str, Any]:
    from shared.jobs.model import Part
    from shared.results.merge import MergeFiles
    from shared.results.outcomes import Outcomes
    from shared.results.retry import Attempts

    outcomes = Outcomes()
    for name in (OUTPUT, ERRORS):
        outcomes.add_file(_chunks(work / name), "batch batch_bench", 0)
    part = Part(0, merge_data.DEPLOYMENT, "/chat/completions", 0, remote_status="completed")
    files = MergeFiles(out, MAX_ATTEMPTS)
    files.run(work / INDEX, outcomes, {0: part}, Attempts())
    tally = files.tally
    return {"succeeded": tally.succeeded, "total": tally.total, "retry": files.retry_count}


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            yield chunk


def baseline(work: Path, out: Path) -> dict[str, Any]:
    """The interpreter with the merge's imports, doing nothing: the floor of peak memory."""
    import orjson  # noqa: F401

    import shared.results.merge  # noqa: F401

    return {}


CHILDREN: dict[str, Callable[[Path, Path], dict[str, Any]]] = {
    "naive": naive,
    "floor": floor,
    "ours": ours,
    "baseline": baseline,
}


def child(variant: str, work: Path, out: Path) -> None:
    baseline(work, out)  # imports, outside the timing: every variant starts from the same point
    before = _cpu()
    started = time.perf_counter()
    facts = CHILDREN[variant](work, out)
    facts["seconds"] = time.perf_counter() - started
    facts["cpu"] = _cpu() - before
    facts["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results = out / "results.jsonl"
    if variant != "floor" and results.exists():
        facts["digest"] = _digest(results)
    print(json.dumps(facts))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _digest(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


# ----- the parent: generate, run each variant in its own process, report --------------------


def run(variant: str, work: Path) -> dict[str, Any]:
    warm(work)
    with tempfile.TemporaryDirectory(prefix=f"{variant}-", dir=work) as out:
        done = subprocess.run(
            [sys.executable, __file__, "--child", variant, str(work), out],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        sys.exit(f"{variant} failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.splitlines()[-1]))


def warm(work: Path) -> None:
    """Read the inputs once, so every variant reads them from the page cache."""
    for name in (INDEX, OUTPUT, ERRORS):
        with (work / name).open("rb") as stream:
            while stream.read(1 << 24):
                pass


def data_for(folder: Path, requests: int) -> Path:
    work = folder / f"merge-{requests}"
    if not merge_data.ready(work):
        merge_data.generate(work, requests)
    return work


def measure(folder: Path, requests: int, repeat: int) -> dict[str, dict[str, Any]]:
    work = data_for(folder, requests)
    sizes = {name: (work / name).stat().st_size / 1e6 for name in (INDEX, OUTPUT, ERRORS)}
    answered = int(requests * merge_data.ANSWERED)
    print(
        f"\n{requests:,} requests: work index {sizes[INDEX]:.0f} MB; {answered:,} answers "
        f"{sizes[OUTPUT]:.0f} MB; {requests - answered:,} errors {sizes[ERRORS]:.1f} MB"
    )
    results = {v: best(v, work, repeat) for v in VARIANTS}
    check(results, requests)
    table(results)
    return results


def best(variant: str, work: Path, repeat: int) -> dict[str, Any]:
    """The fastest of `repeat` runs (timings on shared machines are noisy); naive runs once,
    being the slow yardstick."""
    runs = [run(variant, work) for _ in range(1 if variant == "naive" else repeat)]
    return min(runs, key=lambda r: float(r["seconds"]))


def check(results: dict[str, dict[str, Any]], requests: int) -> None:
    """Ours must write what the naive approach writes, byte for byte."""
    naive_, ours_ = results["naive"], results["ours"]
    if ours_["total"] != requests or ours_["succeeded"] != naive_["succeeded"]:
        sys.exit(f"ours counted {ours_}, naive {naive_}")
    if ours_["digest"] != naive_["digest"]:
        sys.exit("ours wrote a different results.jsonl from naive")


def table(results: dict[str, dict[str, Any]]) -> None:
    naive_s, floor_s = results["naive"]["seconds"], results["floor"]["seconds"]
    print(
        f"  {'variant':8} {'wall s':>7} {'peak MiB':>9} {'vs naive':>9} {'vs floor':>9}"
        f" {'cpu s':>6}"
    )
    for variant, r in results.items():
        print(
            f"  {variant:8} {r['seconds']:7.2f} {r['peak_mib']:9.0f} "
            f"{naive_s / r['seconds']:8.1f}x {r['seconds'] / floor_s:8.2f}x {r['cpu']:6.2f}"
        )


def verdict(by_size: dict[int, dict[str, dict[str, Any]]]) -> None:
    first, *more = sorted(by_size)
    ours_ = by_size[first]["ours"]
    speedup = by_size[first]["naive"]["seconds"] / ours_["seconds"]
    over_floor = ours_["seconds"] / by_size[first]["floor"]["seconds"]
    print("\ntargets (docs/reliability.md), at the first size:")
    _target(f"{speedup:.1f}x faster than naive", speedup >= TARGET_VS_NAIVE, ">= 4x")
    _target(f"{over_floor:.2f}x the floor", over_floor <= TARGET_VS_FLOOR, "<= 1.5x")
    peak = ours_["peak_mib"]
    _target(f"peak {peak:.0f} MiB", peak < TARGET_PEAK_MIB, "< 150 MiB")
    for size in more:
        grown = by_size[size]["ours"]["peak_mib"] / peak
        factor = size / first
        _target(f"{factor:g}x the file: {grown:.2f}x the peak", grown < factor, f"< {factor:g}x")


def _target(text: str, met: bool, goal: str) -> None:
    print(f"  ours: {text:40} target {goal:10} {'met' if met else 'MISSED'}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100,000 requests")
    parser.add_argument("--quick", action="store_true", help="a 10x smaller run (--scale 0.1)")
    parser.add_argument("--sizes", default="1,2", help="multiples of the scaled size")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of floor and ours; the fastest counts"
    )
    parser.add_argument("--keep", type=Path, help="folder for the generated files (kept)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        variant, work, out = args.child
        return child(variant, Path(work), Path(out))
    scale = 0.1 if args.quick else args.scale
    requests = max(1, round(merge_data.FULL_SIZE * scale))
    print("merge benchmark: naive vs floor vs ours (shared.results.merge), each in its own process")
    print("(vs naive: times faster than naive; vs floor: times the floor's wall time)")
    with tempfile.TemporaryDirectory(prefix="bench-merge-") as tmp:
        folder = args.keep or Path(tmp)
        base = run("baseline", data_for(folder, 1))
        print(f"interpreter with the merge's imports: {base['peak_mib']:.0f} MiB peak RSS")
        by_size = {}
        for size in (int(s) for s in args.sizes.split(",")):
            by_size[size] = measure(folder, requests * size, args.repeat)
        verdict(by_size)


if __name__ == "__main__":
    main()
