"""Which separator `batchdrop results --csv` reads results.csv with: the one the job recorded
(job.json), else the one after batchdrop's own first column, else csv.Sniffer's among comma,
semicolon and tab, else the one most often outside quotes in the header. Counting in the
whole header read a quoted column name full of commas as a comma-separated file."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from batchdrop_cli.results import guess_delimiter, recorded_delimiter

SEMI_HEADER = 'custom_id;line;status;prompt;"a,b,c,d,e,f,g,h,i,j";answer;error;finish_reason\n'


def test_the_separator_after_custom_id_wins_over_commas_in_a_quoted_name():
    assert guess_delimiter([SEMI_HEADER]) == ";"
    assert guess_delimiter(['custom_id\tline\tstatus\t"x;y;z;w"\tanswer\n']) == "\t"
    assert guess_delimiter(["custom_id,line,status,prompt,answer\n"]) == ","


def test_without_batchdrop_s_first_column_the_sniffer_reads_a_few_lines():
    head = ['prompt;"a,b,c,d";answer\n', 'Describe Oslo;"1,2";x\n', "Describe Lima;3;y\n"]
    assert guess_delimiter(head) == ";"


def test_when_the_sniffer_cannot_tell_quoted_separators_are_not_counted():
    assert guess_delimiter(['name "x;y;z" ,a\n', "b\n"]) == ","
    assert guess_delimiter([]) == ","


class Work:
    """The work container, holding one blob or none."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self.blobs = blobs
        self.asked: list[str] = []

    def download_blob(self, name: str) -> Any:
        self.asked.append(name)
        if name not in self.blobs:
            raise ResourceNotFoundError("The specified blob does not exist.")
        data = self.blobs[name]
        return type("Download", (), {"readall": lambda _self: data})()


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        (b'{"format": "csv", "delimiter": ";"}', ";"),
        (b'{"format": "csv", "delimiter": "\\t"}', "\t"),
        (b'{"format": "csv"}', None),  # a job.json older than the delimiter
        (b'{"delimiter": "|"}', None),  # no separator an input CSV may have
        (b'{"delimiter": ""}', None),
        (b"not json", None),
        (None, None),  # cleaned up: every request succeeded
    ],
)
def test_the_job_s_recorded_separator_from_its_job_json(meta, expected):
    work = Work({} if meta is None else {"job-1/job.json": meta})
    assert recorded_delimiter(work, "job-1") == expected  # type: ignore[arg-type]
    assert work.asked == ["job-1/job.json"]
