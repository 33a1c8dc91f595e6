import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.storage.names import MAX_BLOB_NAME, OUTPUT_FILES, is_ignored, output_prefix


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("prompts.jsonl", "prompts"),
        ("team/a/prompts.jsonl", "team/a/prompts"),
        ("questions.csv", "questions.csv"),
        ("dir with space/ünï cødé %41.csv", "dir with space/ünï cødé %41.csv"),
        ("report.v2.jsonl", "report.v2.jsonl"),
        ("X.JSONL", "X.JSONL"),
        ("../../etc/passwd.jsonl", "_/_/etc/passwd.jsonl~83874ebcf6a8d034"),
        ("a//b/./c.jsonl", "a/b/_/c.jsonl~259961f56b2b662d"),
        ("noext", "noext~c847f078e2b250f0"),
    ],
)
def test_output_prefix(name, prefix):
    assert output_prefix(name) == prefix


COLLIDING_BEFORE = [
    ["x.jsonl", "x.csv", "x.tsv", "x.JSONL", "X.jsonl", "x", "x.csv.jsonl"],
    ["a//b.jsonl", "a/b.jsonl", "a/./b.jsonl", "a/_/b.jsonl", "a/../b.jsonl", "a/__/b.jsonl"],
    ["x~0123456789abcdef", "x~0123456789abcdef.jsonl", "x.jsonl~0123456789abcdef"],
]


@pytest.mark.parametrize("names", COLLIDING_BEFORE)
def test_two_inputs_never_share_an_output_folder(names):
    folders = [output_prefix(n) for n in names]
    assert len(set(folders)) == len(names), dict(zip(names, folders, strict=True))


@given(st.lists(st.text(st.sampled_from("ab./~\\J"), min_size=1, max_size=12), unique=True))
def test_the_folder_rule_is_one_to_one(names):
    folders = [output_prefix(n) for n in names]
    assert len(set(folders)) == len(names)
    assert all(seg not in (".", "..", "") for f in folders for seg in f.split("/"))


def test_long_names_stay_within_the_blob_name_limit_and_unique():
    a = output_prefix("x" * 1020 + "a.jsonl")
    b = output_prefix("x" * 1020 + "b.jsonl")
    assert a != b
    for file in OUTPUT_FILES:
        assert len(f"{a}/{file}") <= MAX_BLOB_NAME


@pytest.mark.parametrize(
    ("name", "ignored"),
    [
        ("_job.json", True),
        ("dir/_job.json", True),
        (".hidden", True),
        ("dir/.x.jsonl", True),
        ("a.jsonl", False),
        ("dir_/a.jsonl", False),
    ],
)
def test_ignored_names(name, ignored):
    assert is_ignored(name) is ignored
