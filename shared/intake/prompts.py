"""Prompt lines and CSV rows into requests, under the folder's settings (template, system)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.intake.bodies import body_problem, prompt_body
from shared.intake.model import Intake, Request
from shared.intake.native import checked_custom_id, too_deep
from shared.intake.problem import Problem
from shared.intake.text import encode

if TYPE_CHECKING:
    from shared.intake.options import IntakeOptions

Item = Request | Problem


class Prompts:
    """Turns the fields of a prompt line or CSV row into a request under the folder's settings."""

    def __init__(self, options: IntakeOptions, intake: Intake) -> None:
        self.options = options
        self.intake = intake
        self.deployment = options.deployment or ""
        self.checked = False

    def check_deployment(self) -> None:
        """Prompt files name no deployment themselves: one must be configured (said once)."""
        if self.checked or self.options.deployment:
            return
        self.checked = True
        self.intake.add_problem(
            Problem(
                None,
                "missing_deployment",
                'No deployment for this prompt file: set "deployment" in the folder\'s '
                "_job.json or the AZURE_OPENAI_DEPLOYMENT app setting.",
            )
        )

    def request(self, number: int, fields: dict[str, Any], custom_id: object) -> Item:
        cid = checked_custom_id(number, str(number) if custom_id is None else custom_id)
        if isinstance(cid, Problem):
            return _optional_id(cid) if isinstance(custom_id, str) else cid
        given = self._given(number, fields)
        if isinstance(given, Problem):
            return Problem(given.line, given.code, given.message, cid)
        url = self.options.url
        body = prompt_body(self.options.settings, self.deployment, url, given)
        why = body_problem(url, body)
        if why is not None:
            return Problem(number, "invalid_body", f"Line {number}: the request {why}.", cid)
        body_json = encode(body)
        if body_json is None:
            return too_deep(number, cid)
        return Request(number, cid, url, self.deployment, body, fields, body_json)

    def _given(self, number: int, fields: dict[str, Any]) -> str | list[Any] | Problem:
        """The conversation (messages) or the prompt text: messages, else template, else prompt."""
        if "messages" in fields:
            if "prompt" in fields:
                message = f'Line {number} has both "prompt" and "messages"; keep one.'
                return Problem(number, "prompt_and_messages", message)
            messages = fields["messages"]
            return messages if isinstance(messages, list) else []  # the body check explains
        template = self.options.settings.template
        if template is not None:
            missing = template.missing(fields)
            if missing:
                message = f'Line {number}: the template needs "{missing[0]}", which it lacks.'
                return Problem(number, "missing_field", message)
            text: Any = template.render(fields)
        else:
            text = fields.get("prompt")
        if not isinstance(text, str) or not text.strip():
            return Problem(number, "missing_prompt", _no_prompt(number, template is not None))
        return text


def _optional_id(problem: Problem) -> Problem:
    """A prompt's custom_id is optional: an empty one is better left out, which the fix says."""
    if problem.code != "missing_custom_id":
        return problem
    message = (
        f"{problem.message} Give it a value, or leave it out: the line number (a .json item's "
        "position) names the request then."
    )
    return Problem(problem.line, problem.code, message, problem.custom_id)


def _no_prompt(number: int, templated: bool) -> str:
    if templated:
        return f"Line {number}: the template gives an empty prompt; fill in its fields."
    return f'Line {number} needs a non-empty string "prompt" (or "messages").'
