"""LastError of a failed job names the service's code, and its message only when that is not
about a request's content: a message about a line may quote the request (summary.json
`errors` keeps it), and LastError never carries input text. A rejected file's LastError has
counts, codes and line numbers."""

from __future__ import annotations

from shared.intake.problem import Problem
from shared.jobs.explain import failure_reason
from shared.jobs.model import Job, JobStatus
from shared.jobs.part import Part
from shared.lifecycle.prepare import rejection_reason

SECRET = "CANARY-9c1e the secret recipe"


def failed_with(error: dict) -> Job:
    part = Part(0, "dep", "/chat/completions", 1, batch_id="b1", remote_status="failed",
                errors=(error,))  # fmt: skip
    return Job("j", "c", "n.jsonl", "e", status=JobStatus.FAILED, parts=(part,))


def test_a_service_error_about_a_line_gives_its_code_and_line_not_its_message():
    error = {"code": "invalid_request", "message": f"Line 3: '{SECRET}' is too long", "line": 3}
    reason = failure_reason(failed_with(error))
    assert SECRET not in reason and "invalid_request at line 3" in reason, reason


def test_a_content_code_without_a_line_leaves_its_message_out():
    reason = failure_reason(failed_with({"code": "invalid_json_line", "message": SECRET}))
    assert SECRET not in reason and "invalid_json_line" in reason, reason


def test_a_batch_level_error_keeps_the_service_message():
    error = {"code": "model_not_found", "message": "The deployment dep does not exist"}
    reason = failure_reason(failed_with(error))
    assert "model_not_found: The deployment dep does not exist" in reason, reason


def test_a_rejection_reason_counts_codes_and_lines_only():
    problems = [
        Problem(2, "unnamed_column", f"Line 2: a value ('{SECRET}') would be lost"),
        *(Problem(n, "missing_prompt", f"Line {n}: {SECRET}") for n in range(3, 11)),
        Problem(None, "too_many_tasks", SECRET),
    ]
    reason = rejection_reason(12, problems)
    assert SECRET not in reason
    assert "12 problem(s)" in reason
    assert "unnamed_column (line 2)" in reason
    assert "missing_prompt (lines 3, 4, 5, 6, 7 and 3 more)" in reason
    assert "; too_many_tasks." in reason
