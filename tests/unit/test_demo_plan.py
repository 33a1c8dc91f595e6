"""What the demo drops, and under which names: each file keeps its path from the folder that
holds everything given, so two folders of the same name never overwrite each other in the
input container, and a file given twice is dropped once."""

from __future__ import annotations

from pathlib import Path

from devtools import demo


def names(*paths: Path) -> list[str]:
    return [name for _, name in demo.plan(list(paths))]


def test_two_folders_with_the_same_name_do_not_collide(tmp_path: Path):
    for parent in ("a", "b"):
        (tmp_path / parent / "data").mkdir(parents=True)
        (tmp_path / parent / "data" / "q.txt").write_text("What?\n")
    dropped = names(tmp_path / "a" / "data", tmp_path / "b" / "data")
    assert dropped == ["demo/a/data/q.txt", "demo/b/data/q.txt"]


def test_one_folder_is_dropped_under_its_own_name_settings_first(tmp_path: Path):
    folder = tmp_path / "work"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "cities.csv").write_text("city\nOslo\n")
    (folder / "sub" / "_job.json").write_text("{}")
    (folder / "many.jsonl").write_text('{"prompt": "Hi"}\n')
    (folder / ".hidden").write_text("x")
    assert names(folder) == ["demo/work/sub/_job.json", "demo/work/many.jsonl",
                             "demo/work/sub/cities.csv"]  # fmt: skip


def test_a_file_given_twice_or_inside_a_given_folder_is_dropped_once(tmp_path: Path):
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "q.txt").write_text("What?\n")
    assert names(folder, folder / "q.txt", folder / ".." / "work" / "q.txt") == ["demo/work/q.txt"]


def test_files_from_one_folder_keep_their_names(tmp_path: Path):
    # The default run: every entry of examples/, each under demo/ as before.
    (tmp_path / "a.jsonl").write_text("{}\n")
    (tmp_path / "b.csv").write_text("prompt\nHi\n")
    assert names(tmp_path / "a.jsonl", tmp_path / "b.csv") == ["demo/a.jsonl", "demo/b.csv"]
