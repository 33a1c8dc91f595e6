import pytest

from shared.jobs.model import (
    ALLOWED,
    TERMINAL,
    Job,
    JobStatus,
    Part,
    TransitionError,
    derived_status,
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
        (["completed", "expired"], JobStatus.COMPLETED),
        (["cancelled", "completed"], JobStatus.CANCELLED),
        (["expired", "failed"], JobStatus.FAILED),
    ],
)
def test_outcome_of_parts(statuses, expected):
    parts = tuple(
        Part(i, "d", "/v1/chat/completions", 1, remote_status=s) for i, s in enumerate(statuses)
    )
    assert outcome(parts) == expected


def test_expired_only_when_requests_are_still_lost():
    parts = (Part(0, "d", "u", 1, remote_status="expired"),)
    assert outcome(parts, expired_left=True) == JobStatus.EXPIRED
    assert outcome(parts, expired_left=False) == JobStatus.COMPLETED


def test_job_status_derived_from_part_phases():
    base = Part(0, "d", "u", 1)
    live = Part(1, "d", "u", 1, file_id="f", batch_id="b")
    done = Part(2, "d", "u", 1, file_id="f", batch_id="b", remote_status="completed")
    waiting = Part(3, "d", "u", 1, file_id="f", wait_until=200)
    assert derived_status((base, live), now=100) == JobStatus.SUBMITTING
    assert derived_status((live, done), now=100) == JobStatus.IN_PROGRESS
    assert derived_status((waiting, live), now=100) == JobStatus.WAITING
    assert derived_status((waiting, done), now=300) == JobStatus.SUBMITTING  # back-off over
    assert derived_status((done,), now=100) == JobStatus.COMPLETING


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
