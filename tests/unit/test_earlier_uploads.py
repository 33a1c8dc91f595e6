"""A part uploaded again after a lost answer: the earlier try's file may land late, so the
job's clean-up waits for it and deletes it by name; a part uploaded once costs no look-up (I6)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from shared.batches.files import delete_earlier_uploads, earlier_uploads_may_land
from shared.batches.service import RemoteFile
from shared.jobs.model import Part
from shared.storage.names import upload_name
from tests.fakes import FakeService, make_deps


@dataclass
class Landed(FakeService):
    """FakeService holding files by name, as if earlier uploads had landed."""

    by_name: dict[str, str] = field(default_factory=dict)

    def find_file(self, filename: str) -> RemoteFile | None:
        self.calls.append(("find_file", filename))
        file_id = self.by_name.get(filename)
        return RemoteFile(file_id, "processed", filename) if file_id else None


def part(tries: int, uploaded_at: float) -> Part:
    return Part(
        0, "dep", "/v1/chat/completions", 1, upload_tries=tries, uploaded_at=int(uploaded_at)
    )


def test_files_of_earlier_upload_tries_are_found_by_name_and_deleted():
    api = Landed(by_name={upload_name("j", 0, 1): "late-1", upload_name("j", 0, 3): "now-3"})
    recorded = replace(part(3, time.time()), file_id="now-3")
    delete_earlier_uploads(api, "j", recorded)
    assert api.deleted == ["late-1"]  # the recorded upload is the part's own, deleted with it
    assert [n for c, n in api.calls if c == "find_file"] == [
        upload_name("j", 0, 1),
        upload_name("j", 0, 2),
    ]


def test_a_part_without_a_lost_upload_needs_no_look_up_and_no_wait():
    api = Landed()
    once = part(1, time.time())
    unusable = replace(part(2, time.time()), unusable_uploads=1)  # recorded, then deleted
    for each in (once, unusable):
        delete_earlier_uploads(api, "j", each)
        assert not earlier_uploads_may_land(make_deps(api), each)
    assert api.calls == []


def test_the_clean_up_waits_until_an_earlier_try_can_no_longer_land():
    deps = make_deps(Landed(), AZURE_OPENAI_TIMEOUT_SECONDS="10", BATCH_CLOCK_SKEW_SECONDS="5")
    assert earlier_uploads_may_land(deps, part(2, time.time() - 30))  # within 3 x 10 + 5 + 1
    assert not earlier_uploads_may_land(deps, part(2, time.time() - 37))
    sent = replace(part(2, time.time() - 37), uploading_at=int(time.time() - 30))
    assert earlier_uploads_may_land(deps, sent)  # counted from the last try's send
