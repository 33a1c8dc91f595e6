import pytest

from shared.storage.names import MAX_BLOB_NAME, OUTPUT_FILES, is_ignored, output_prefix


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("prompts.jsonl", "prompts"),
        ("team/a/prompts.jsonl", "team/a/prompts"),
        ("dir with space/ünï cødé %41.csv", "dir with space/ünï cødé %41"),
        ("../../etc/passwd.jsonl", "__/__/etc/passwd"),
        ("a//b/./c.jsonl", "a/b/_/c"),
        ("noext", "noext"),
    ],
)
def test_output_prefix(name, prefix):
    assert output_prefix(name) == prefix


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
