"""Input files read as their users wrote them (issue 13, holes 11-15 and 18 of the adversarial
tests), dropped into Azurite and run through the registered functions and the emulator: an
unclosed CSV quote, separators inside quoted header names and a .tsv's commas, the same bytes
under another extension, input columns named like batchdrop's own, a JSON array of strings,
unnamed header columns and empty custom_id cells."""

from __future__ import annotations

import csv
import io

from shared.deps import default_deps
from shared.storage.names import output_prefix
from tests.conftest import read_jsonl, run_until
from tests.integration.test_flow import output, summary_of, upload


def finish(host, deps, name: str, data: bytes) -> dict:
    """Upload one file, deliver it and run until its summary.json is written."""
    upload(deps, name, data)
    host.deliver_new_blobs()
    prefix = output_prefix(name)
    run_until(host, lambda: summary_of(deps, prefix) is not None, timeout=30)
    summary = summary_of(deps, prefix)
    assert summary is not None
    return summary


def problems(deps, name: str) -> list[dict]:
    return read_jsonl(output(deps, f"{output_prefix(name)}/errors.jsonl") or b"")


def results_csv(deps, name: str, delimiter: str = ",") -> list[dict[str, str]]:
    text = (output(deps, f"{output_prefix(name)}/results.csv") or b"").decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=delimiter))


def test_an_unclosed_csv_quote_rejects_the_file_naming_the_line_it_opened_on(app_env, host):
    app_env()
    deps = default_deps()
    # csv's lenient reading made lines 3-5 one prompt and completed with 2 requests.
    summary = finish(host, deps, "q/unclosed.csv", b'prompt\nfirst\n"second\nthird\nfourth\n')
    assert summary["status"] == "rejected"
    [problem] = problems(deps, "q/unclosed.csv")
    assert problem["line"] == 3 and problem["error"]["code"] == "unclosed_quote"
    assert "never closed" in problem["error"]["message"]
    # Mid-file, the quote is closed by a later value's quote: still the line it opened on.
    data = b'prompt,id\nfirst,1\n"second,2\nthird,3\n"fourth",4\n'
    assert finish(host, deps, "q/midfile.csv", data)["status"] == "rejected"
    [problem] = problems(deps, "q/midfile.csv")
    assert problem["line"] == 3 and problem["error"]["code"] == "unclosed_quote"
    assert "line 5" in problem["error"]["message"]
    assert "quote values that hold the separator" not in problem["error"]["message"]


def test_a_tsv_is_tab_separated_and_quoted_header_names_keep_their_separators(app_env, host):
    app_env()
    deps = default_deps()
    for name, data, delimiter, column in [
        ("q/commas.tsv", b"prompt\tcomment (a, b, c)\nSay hi\tok\n", "\t", "comment (a, b, c)"),
        ("q/quoted.csv", b'prompt,"notes; misc"\nSay hi,ok\n', ",", "notes; misc"),
        ("q/semi.csv", b'prompt;"a, b"\nSay hi;ok\n', ";", "a, b"),
    ]:
        summary = finish(host, deps, name, data)
        assert summary["status"] == "completed", (name, summary["errors"])
        [row] = results_csv(deps, name, delimiter)
        assert row["prompt"] == "Say hi" and row[column] == "ok", (name, row)


def test_the_same_bytes_under_another_extension_are_not_a_duplicate(app_env, host):
    app_env()
    deps = default_deps()
    data = b"prompt\nWhat is one?\n"
    assert finish(host, deps, "same/q.csv", data)["counts"]["total"] == 1  # header + 1 row
    again = finish(host, deps, "same/q.txt", data)  # 2 prompts as plain text
    assert again["status"] == "completed", again.get("duplicate_of")
    assert again["counts"]["succeeded"] == 2
    assert not any("Identical content" in w for w in again["warnings"])


def test_input_columns_named_like_batchdrops_never_take_another_inputs_name(app_env, host):
    app_env()
    deps = default_deps()
    finish(host, deps, "q/names.csv", b"prompt,status,input.status\nSay hi,a,b\n")
    [row] = results_csv(deps, "q/names.csv")
    # The user's input.status keeps its name and value; their status is input.input.status.
    assert row["input.status"] == "b" and row["input.input.status"] == "a", row
    assert row["status"] == "succeeded"


def test_a_json_array_of_strings_names_each_items_position_and_the_fix(app_env, host):
    app_env()
    deps = default_deps()
    summary = finish(host, deps, "q/strings.json", b'["first prompt",\n "second prompt"]')
    assert summary["status"] == "rejected"
    found = problems(deps, "q/strings.json")
    assert [p["line"] for p in found] == [1, 2]
    messages = [p["error"]["message"] for p in found]
    assert messages[0].startswith("Line 1: item 1 of the JSON array is a string")
    assert messages[1].startswith("Line 2: item 2 of the JSON array is a string")
    assert all(".txt" in m and '{"prompt":' in m for m in messages), messages


def test_unnamed_csv_columns_and_empty_custom_id_cells(app_env, host):
    app_env()
    deps = default_deps()
    # An unnamed column holding values (here a spreadsheet's row index) would lose them.
    summary = finish(host, deps, "q/index.csv", b",prompt\n0,Say hi\n1,Say bye\n")
    assert summary["status"] == "rejected"
    [problem] = problems(deps, "q/index.csv")
    assert problem["line"] == 2 and problem["error"]["code"] == "unnamed_column"
    assert "column 1" in problem["error"]["message"]
    # An empty unnamed column is only a warning; an empty custom_id cell is the line number.
    data = b"custom_id,prompt,\nfirst,Say hi,\n,Say bye,\n"
    summary = finish(host, deps, "q/blank.csv", data)
    assert summary["status"] == "completed", summary["errors"]
    assert any("without a name" in w for w in summary["warnings"])
    assert [r["custom_id"] for r in results_csv(deps, "q/blank.csv")] == ["first", "3"]
