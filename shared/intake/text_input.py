"""`.txt` files: one plain prompt per line (blank lines skipped); the line is the field
`prompt`, so a template can wrap it as `{prompt}`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from shared.intake import formats
from shared.intake.lines import LongLine
from shared.intake.problem import Problem
from shared.intake.prompts import Item, Prompts
from shared.intake.text import non_utf8, too_long

if TYPE_CHECKING:
    from shared.intake.model import Intake
    from shared.intake.options import IntakeOptions

FIELD = "prompt"
Lines = Iterable[tuple[int, bytes]]


class TextReader:
    """One request per non-blank line, the line's text as the prompt."""

    def __init__(self, options: IntakeOptions, intake: Intake) -> None:
        self.options = options
        self.intake = intake
        self.prompts = Prompts(options, intake)
        self.intake.format = "text"

    @property
    def columns(self) -> list[str]:
        return [FIELD]

    def items(self, lines: Lines) -> Iterator[Item]:
        template = self.options.settings.template
        missing = [f for f in template.fields if f != FIELD] if template else []
        if missing:
            yield _template_problem(missing[0])
            return
        self.prompts.check_deployment()
        first = True
        for number, raw in lines:
            if not raw or raw.isspace():
                self.intake.repaired("Skipped blank lines", number)
                continue
            if first and formats.looks_like_object(raw):
                yield formats.json_in_text(number)
                return  # a JSON file misnamed: one clear problem, not one per line
            first = False
            yield self.line(number, raw)

    def line(self, number: int, raw: bytes) -> Item:
        if type(raw) is LongLine:
            return too_long(number, raw, self.options.max_line)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return Problem(number, "not_utf8", f"Line {number} {non_utf8(raw)}.")
        return self.prompts.request(number, {FIELD: text}, None)


def _template_problem(field: str) -> Problem:
    return Problem(
        None,
        "missing_field",
        f'The template names "{{{field}}}", but a .txt file gives each line only as '
        '"{prompt}"; use a CSV or JSON Lines file for more fields.',
    )
