from shared.batches.service import epoch, parse_batch


def test_parse_batch_reads_quirky_objects():
    batch = parse_batch(
        {
            "id": "batch_1",
            "status": "Completed",
            "output_file_id": "",
            "error_file_id": "f-e",
            "request_counts": {"total": 3, "completed": None, "failed": 1},
            "completed_at": "2026-11-22T00:00:10Z",
            "metadata": {"batchdrop_job": "j"},
            "errors": {"data": [{"code": "c", "message": "m", "line": 2}]},
        }
    )
    assert batch.status == "completed"
    assert (batch.total, batch.completed, batch.failed) == (3, 0, 1)
    assert batch.output_file_id is None and batch.error_file_id == "f-e"
    assert batch.ended_at == epoch("2026-11-22T00:00:10+00:00") == 1795305610
    assert batch.errors == ({"code": "c", "message": "m", "line": 2},)
    assert ("batchdrop_job", "j") in batch.metadata


def test_parse_batch_with_nulls_everywhere():
    batch = parse_batch(
        {"id": "b", "status": None, "request_counts": None, "errors": None, "metadata": None}
    )
    assert batch.status is None and batch.total == 0 and batch.errors == ()


def test_epoch_accepts_ints_and_rejects_junk():
    assert epoch(1700000000) == 1700000000
    assert epoch("yesterday") is None and epoch(True) is None and epoch(None) is None
