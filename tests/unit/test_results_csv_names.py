"""results.csv column names, as a property: whatever the input columns and schema fields are
called, each gets a column of its own, a name that is not batchdrop's is never taken from the
column that has it (no swaps), and each value lands under its own column."""

from __future__ import annotations

import csv

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.results.results_csv import FIELD_PREFIX, INPUT_PREFIX, OWN, CsvSpec, CsvWriter

BASES = [*sorted(OWN), "topic", "x"]
# Names that collide as often as possible: batchdrop's own, and their prefixed spellings.
colliding = st.builds(
    lambda prefixes, base: "".join(prefixes) + base,
    st.lists(st.sampled_from([INPUT_PREFIX, FIELD_PREFIX]), max_size=3),
    st.sampled_from(BASES),
)
names = st.lists(colliding | st.text(min_size=1, max_size=6), max_size=8, unique=True)


def written_as(name: str, out: str, taken: set[str] | frozenset[str], prefix: str) -> bool:
    """`out` is `name` when `name` is not taken, else `name` with `prefix` in front once or more."""
    if name not in taken:
        return out == name
    if out == name:
        return False
    while out.startswith(prefix) and out != name:
        out = out[len(prefix) :]
    return out == name


@settings(max_examples=400, deadline=None)
@given(inputs=names, fields=st.none() | names.filter(bool))
def test_column_names_are_one_to_one_and_never_swap(inputs, fields):
    spec = CsvSpec(tuple(inputs), None if fields is None else tuple(fields))
    header = spec.header
    assert len(set(header)) == len(header)
    written = header[3 : 3 + len(inputs)]
    for name, out in zip(inputs, written, strict=True):
        assert written_as(name, out, OWN, INPUT_PREFIX), (name, out)
    if fields is None:
        assert header[3 + len(inputs) :] == ["answer", "error", "finish_reason"]
        return
    taken = OWN | set(written)
    answers = header[3 + len(inputs) : 3 + len(inputs) + len(fields)]
    for name, out in zip(fields, answers, strict=True):
        assert written_as(name, out, taken, FIELD_PREFIX), (name, out)
    assert header[-3:] == ["error", "finish_reason", "raw_answer"]


@settings(max_examples=100, deadline=None)
@given(inputs=names)
def test_each_input_value_is_written_under_its_own_column(tmp_path_factory, inputs):
    path = tmp_path_factory.mktemp("csv") / "results.csv"
    spec = CsvSpec(tuple(inputs), None)
    values = {name: f"value of {name}" for name in inputs}
    writer = CsvWriter.open(path, spec)
    writer.write({"custom_id": "c", "line": 2, "status": "failed", "input": values})
    writer.close()
    with path.open(newline="", encoding="utf-8-sig") as stream:
        header, row = csv.reader(stream)
    by_column = dict(zip(header, row, strict=True))
    assert by_column["status"] == "failed" and by_column["custom_id"] == "c"
    for name, out in zip(inputs, spec.header[3 : 3 + len(inputs)], strict=True):
        assert by_column[out] == values[name]
