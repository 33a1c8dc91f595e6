import pytest

from shared.jobs.model import (
    ALLOWED,
    FINAL,
    TERMINAL,
    Job,
    JobStatus,
    Part,
    Stop,
    StopReason,
    TransitionError,
    derived_status,
    job_id_for,
    outcome,
    utcnow,
)
from shared.jobs.part import normalise_remote_status


def test_job_id_is_stable_per_version_and_safe_as_a_table_key():
    a = job_id_for("batch-input", "x/y#?\\.jsonl", '"0x8D1"')
    assert a == job_id_for("batch-input", "x/y#?\\.jsonl", "0x8D1")
    assert a != job_id_for("batch-input", "x/y#?\\.jsonl", "0x8D2")
    assert a.isalnum()


def test_terminal_states_have_no_way_out_but_a_retry_of_a_final_one():
    for status in TERMINAL - FINAL:
        assert status not in ALLOWED
    for status in FINAL:  # a person's retry reopens it with a new round (lifecycle/reopen.py)
        assert ALLOWED[status] == {JobStatus.SUBMITTING}


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
    assert outcome(with_parts(parts)) == expected


def with_parts(parts: tuple[Part, ...]) -> Job:
    return Job.new("c", "n", "e").changed(parts=parts)


def test_expired_only_when_requests_are_still_lost():
    job = with_parts((Part(0, "d", "u", 1, remote_status="expired"),))
    assert outcome(job, expired_left=True) == JobStatus.EXPIRED
    assert outcome(job, expired_left=False) == JobStatus.COMPLETED


def test_a_persons_cancel_makes_the_job_cancelled_whatever_its_batches_did():
    job = with_parts((Part(0, "d", "u", 1, remote_status="completed"),))
    stop = Stop(StopReason.CANCEL, "asked", utcnow())
    assert outcome(job.changed(stop=stop)) == JobStatus.CANCELLED


def test_any_open_state_may_end_superseded_or_failed_but_not_a_finished_one():
    for status in set(JobStatus) - TERMINAL:
        assert {JobStatus.SUPERSEDED, JobStatus.FAILED} <= ALLOWED[status]
    for status in TERMINAL:
        assert JobStatus.SUPERSEDED not in ALLOWED.get(status, ())


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
