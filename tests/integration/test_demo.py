"""The demo as users run it: arguments checked before anything starts; a folder with subfolders
dropped whole, a bounded preview printed, and the outputs kept on disk after it ends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]


def demo(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devtools.demo", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "COLUMNS": "160"},
    )


def test_wrong_arguments_are_refused_before_any_service_starts(tmp_path):
    started = time.monotonic()
    done = demo(str(tmp_path / "nope.jsonl"), timeout=60)
    assert done.returncode != 0 and "no such file or folder" in done.stderr
    assert "starting" not in done.stdout
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "_job.json").write_text("{}")
    done = demo(str(tmp_path / "only"), timeout=60)
    assert done.returncode != 0 and "nothing to drop" in done.stderr
    assert time.monotonic() - started < 30  # no Azurite, emulator or host was started


def test_a_folder_with_subfolders_runs_whole_and_its_outputs_are_kept(tmp_path):
    folder = tmp_path / "work"
    (folder / "other" / "deeper").mkdir(parents=True)
    (folder / "sub").mkdir()
    prompts = b"".join(orjson.dumps({"prompt": f"Question {i}?"}) + b"\n" for i in range(60))
    (folder / "many.jsonl").write_bytes(prompts)
    (folder / "sub" / "_job.json").write_text('{"template": "Describe {city}."}')
    (folder / "sub" / "cities.csv").write_text("city\nOslo\nLima\n")
    (folder / "other" / "deeper" / "notes.txt").write_text("Name a river.\n")
    (folder / ".hidden").write_text("not an input")
    out = tmp_path / "kept"
    done = demo(str(folder), "--out", str(out), "--preview", "3")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = done.stdout
    assert "batches: None" not in text
    assert "... and 57 more" in text  # 60 results, 3 shown
    assert len(text.splitlines()) < 150  # bounded, however long the files
    listing = text.split("$ batchdrop jobs")[1]  # the final listing comes from the CLI
    assert "demo/work/sub/cities.csv" in listing and listing.count("completed") == 3
    [run] = list(out.iterdir())  # one folder per run
    assert f"outputs kept in {run}" in " ".join(text.split())
    kept = run / "batch-output" / "demo" / "work"
    expected = {"many": 60, "sub/cities.csv": 2, "other/deeper/notes.txt": 1}
    for name, count in expected.items():
        summary = orjson.loads((kept / name / "summary.json").read_bytes())
        assert summary["status"] == "completed" and summary["counts"]["succeeded"] == count
        assert len((kept / name / "results.jsonl").read_bytes().splitlines()) == count
    assert (kept / "sub" / "cities.csv" / "results.csv").exists()
