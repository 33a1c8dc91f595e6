"""Smoke test of the benchmarks: they run and print their tables. No timing is asserted:
benchmarks are measured by people (bench/README.md), not by the test suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_merge_benchmark_runs_in_quick_mode() -> None:
    out = run_bench("bench/bench_merge.py", "--quick", "--repeat", "1")
    for heading in ("variant", "wall s", "peak MiB", "vs naive", "vs floor"):
        assert heading in out
    for variant in ("naive", "floor", "ours"):
        assert f"  {variant} " in out
    assert "10,000 requests" in out and "20,000 requests" in out


def test_poll_benchmark_runs_with_a_few_jobs() -> None:
    out = run_bench("bench/bench_poll.py", "--jobs", "40")
    for heading in ("variant", "wall s", "per job ms", "vs naive"):
        assert heading in out
    for variant in ("naive", "calls only", "ours"):
        assert f"  {variant} " in out
    assert "40 seen" in out


def test_shapes_benchmark_runs_in_quick_mode() -> None:
    out = run_bench("bench/bench_shapes.py", "--quick", "--no-naive")
    for heading in ("shape", "stage", "wall s", "peak MiB", "< 400 MiB", "outcome"):
        assert heading in out
    for shape in ("tiny lines", "tiny, over limit", "32 MiB nested", "deep nesting", "long ids"):
        assert f"  {shape} " in out
    assert "rejected: too_many_requests" in out  # the limit scales with --quick
    assert "every shape: met" in out


def test_big_job_benchmark_runs_with_a_few_batches() -> None:
    out = run_bench("bench/bench_big_job.py", "--batches", "20", "--threads", "1,8")
    for heading in ("phase", "wall s", "table writes", "rows written", "service calls"):
        assert heading in out
    for phase in ("prepare", "submit", "tick, live", "tick, ended", "completion", "clean-up"):
        assert f"  {phase} " in out
    assert "20 batches, 1 part(s) at a time" in out and "20 batches, 8 part(s) at a time" in out
