import pytest

from shared.jobs import (
    ALLOWED,
    TERMINAL,
    Job,
    JobStatus,
    Part,
    TransitionError,
    job_id_for,
    normalise_remote_status,
    outcome,
)


def test_job_id_is_stable_per_version_and_safe_as_a_table_key():
    a = job_id_for("batch-input", "x/y#?\\.jsonl", '"0x8D1"')
    assert a == job_id_for("batch-input", "x/y#?\\.jsonl", "0x8D1")
    assert a != job_id_for("batch-input", "x/y#?\\.jsonl", "0x8D2")
    assert a.isalnum()


def test_terminal_states_have_no_way_out():
    for status in TERMINAL:
        assert status not in ALLOWED


def test_forbidden_transition_raises():
    job = Job.new("c", "n", "e")
    with pytest.raises(TransitionError):
        job.moved_to(JobStatus.COMPLETED)
    assert job.moved_to(JobStatus.SUBMITTING).status == JobStatus.SUBMITTING


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("Validating", "validating"),
        ("IN_PROGRESS", "in_progress"),
        (" completed ", "completed"),
        (None, None),
        ("", None),
        (3, None),
    ],
)
def test_remote_status_is_normalised(raw, norm):
    assert normalise_remote_status(raw) == norm


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["completed", "completed"], JobStatus.COMPLETED),
        (["completed", "expired"], JobStatus.EXPIRED),
        (["cancelled", "completed"], JobStatus.CANCELLED),
        (["expired", "failed"], JobStatus.FAILED),
    ],
)
def test_outcome_of_parts(statuses, expected):
    parts = tuple(
        Part(i, "d", "/v1/chat/completions", 1, remote_status=s) for i, s in enumerate(statuses)
    )
    assert outcome(parts) == expected


def test_part_round_trips_through_dict():
    part = Part(
        2,
        "d",
        "/v1/responses",
        5,
        file_id="f",
        batch_id="b",
        remote_status="failed",
        errors=({"code": "x", "message": "y"},),
    )
    assert Part.from_dict(part.to_dict()) == part
