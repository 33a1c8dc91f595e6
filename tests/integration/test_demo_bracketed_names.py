"""The demo with input names holding `[` and `]`, ordinary in file and blob names: it says them
as they are, from dropping them to the final listing. Read as rich markup, `data[v2].jsonl`
lost its `[v2]` and a folder `x[` holding `bold].jsonl` (blob `.../x[/bold].jsonl`) crashed
the demo with a MarkupError."""

from __future__ import annotations

from tests.integration.test_demo import demo


def test_the_demo_says_bracketed_names_as_they_are(tmp_path):
    folder = tmp_path / "in"
    (folder / "x[").mkdir(parents=True)
    (folder / "data[v2].jsonl").write_bytes(b'{"prompt": "hello"}\n')
    (folder / "x[" / "bold].jsonl").write_bytes(b'{"prompt": "x"}\n')
    run = demo(str(folder), "--out", str(tmp_path / "out"), "--timeout", "120")
    out = run.stdout + run.stderr
    assert "Traceback" not in out and run.returncode == 0, out[-1500:]
    assert "as batch-input/demo/in/data[v2].jsonl" in out, out[-3000:]
    assert "as batch-input/demo/in/x[/bold].jsonl" in out, out[-3000:]
    assert "demo/in/x[/bold].jsonl: status completed" in out, out[-3000:]
