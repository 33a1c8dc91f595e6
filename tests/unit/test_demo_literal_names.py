"""The demo prints input names, paths, custom_ids, questions, answers and errors as they are:
`[b]` or `[/bold]` in them is text, never rich markup (which lost text or raised MarkupError)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devtools import demo, demo_jobs

ODD = "in/x[/bold].jsonl"  # a closing tag with nothing open: rich's MarkupError
LOST = "in/[b]data[v2] :smile:.jsonl"  # read as markup, `[b]` and `[v2]` vanished


def listed(name: str, status: str = "completed") -> dict[str, Any]:
    return {"input": {"name": name}, "status": status, "succeeded": 1, "failed": 0,
            "requests_done": 1, "total": 1, "batch_count": 1}  # fmt: skip


def printed(show: Any, *args: Any) -> str:
    with demo_jobs.console.capture() as captured:
        show(*args)
    return captured.get()


def test_progress_lines_say_names_as_they_are():
    out = printed(demo_jobs.Progress(2).show, [listed(ODD), listed(LOST, "[red]x")])
    assert f"{ODD}: completed" in out and f"{LOST}: [red]x" in out, out


def test_the_preview_says_names_values_and_paths_as_they_are(tmp_path: Path):
    folder = tmp_path / "out[1]" / "x[" / "bold]"
    folder.mkdir(parents=True)
    summary = {"status": "completed", "counts": {"total": 3, "succeeded": 1},
               "warnings": ["[/i] in a warning"]}  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary))
    result = {"line": 1, "custom_id": "[/c]", "status": "succeeded",
              "request": {"messages": [{"role": "user", "content": "[b]why[/b]?"}]},
              "response": {"choices": [{"message": {"content": "[/x] because"}}]}}  # fmt: skip
    (folder / "results.jsonl").write_text(json.dumps(result) + "\n")
    out = printed(demo_jobs.show_results, {"input": {"name": ODD}}, folder, 5)
    for said in (ODD, str(folder), "[/c]", "[b]why[/b]?", "[/x] because", "[/i] in a warning"):
        # Rich wraps long lines (a deep tmp path) where it likes: compare without whitespace.
        assert "".join(said.split()) in "".join(out.split()), (said, out)


def test_dropped_names_and_kept_paths_are_said_as_they_are(tmp_path: Path):
    out = printed(demo.stopped, {"j": tmp_path}, tmp_path / "[/o]", 1)
    assert "keptin" + str(tmp_path / "[/o]") in "".join(out.split()), out
    err = demo_jobs.TimedOut(1, [listed(LOST, "running")])
    out = printed(demo.ended, lambda: (_ for _ in ()).throw(err), {}, tmp_path)
    assert f"still open: {LOST}" in out, out
