"""What tests can see of the emulator: every batch, and every file, deleted ones included."""

from __future__ import annotations

import openai
import pytest

from devtools.emulator import Emulator, Timings
from tests.devtools.kit import admin, chat_file, make_emulator, run_batch, upload, v1_client


def test_deleted_files_stay_readable_for_tests(emu: Emulator) -> None:
    client = v1_client(emu.url)
    data = chat_file(3)
    batch = run_batch(client, data)
    output = client.files.content(batch.output_file_id).content
    ids = [batch.input_file_id, batch.output_file_id, batch.error_file_id]
    for file_id in ids:
        client.files.delete(file_id)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(batch.input_file_id)
    state = emu.state()
    assert state["files"] == []
    deleted = {f["id"]: f for f in state["deleted_files"]}
    assert set(deleted) == set(ids)
    assert all(isinstance(f["deleted_at"], int) for f in deleted.values())
    assert deleted[batch.output_file_id]["batch_id"] == batch.id
    assert emu.content(batch.input_file_id) == data
    assert emu.content(batch.output_file_id) == output
    assert admin(f"{emu.url}/_emulator/state")["deleted_files"] == state["deleted_files"]
    with pytest.raises(KeyError):
        emu.content("file-unknown")


def test_deleted_contents_can_be_dropped() -> None:
    with make_emulator(keep_deleted_files=False) as emu:
        client = v1_client(emu.url)
        file_id = upload(client, chat_file(1))
        assert emu.content(file_id) == chat_file(1)
        client.files.delete(file_id)
        assert emu.state()["deleted_files"] == []
        with pytest.raises(KeyError):
            emu.content(file_id)


def test_every_batch_is_listed_with_its_metadata_and_status() -> None:
    with make_emulator(timings=Timings(file_processing=0.01, validating=60)) as emu:
        client = v1_client(emu.url)
        file_id = upload(client, chat_file(2))
        created = [
            client.batches.create(
                input_file_id=file_id,
                endpoint="/chat/completions",
                completion_window="24h",
                metadata={"job": job, "part": "0"},
            )
            for job in ("a", "b", "a")
        ]
        client.batches.cancel(created[1].id)
        listed = emu.batches()
        assert [b["id"] for b in listed] == [b.id for b in created]
        first = listed[0]
        assert (first["status"], first["metadata"]) == ("validating", {"job": "a", "part": "0"})
        assert first["input_filename"] == "input.jsonl"
        assert first["deployments"] == ["gpt-4o-mini-batch"]
        assert first["live"] and not first["cancel_requested"]
        assert listed[1]["status"] == "cancelling" and listed[1]["cancel_requested"]
        only_a = emu.batches(metadata={"job": "a"})
        assert [b["id"] for b in only_a] == [created[0].id, created[2].id]
        assert emu.batches(metadata={"job": "a", "part": "1"}) == []
        over_http = admin(f"{emu.url}/_emulator/batches")
        assert [b["id"] for b in over_http] == [b.id for b in created]
        assert emu.state()["batches"] == listed
