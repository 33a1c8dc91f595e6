"""The timer trigger's schedule as Azure reads it: NCrontab (the parser the timer extension
uses), with the extension's rule for the seconds field.

Ported from the behaviour of NCrontab's CrontabSchedule, CrontabFieldImpl and CrontabField
(atifaziz/NCrontab) and of the timer extension's CronSchedule.TryCreate
(azure-webjobs-sdk-extensions), so that what Azure refuses is refused here and what it accepts
is accepted, with the same meaning:

- fields are split on spaces only; five fields mean no seconds (Azure's `HasSeconds` is "not
  five fields"), so six are seconds first and anything else is refused;
- a field is `*`, a number, a name (months and days of the week, any prefix of the English
  name, any case), a range `a-b` (reversed ranges are swapped), a step `x/n` (`n` below 1
  counts as 1), or a comma-separated list of those;
- there is no `L`, `W`, `?` or `#`, and day of week is 0-6 (Sunday is 0; 7 is refused);
- a time matches when every field matches: day of month AND day of week (not OR, as in Unix
  cron).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

# .NET int.Parse (NumberStyles.Integer): surrounding white space and a sign, then digits.
_INTEGER = re.compile(r"[\t\n\v\f\r ]*([+-]?[0-9]+)[\t\n\v\f\r ]*")
_INT32 = range(-(2**31), 2**31)
# The Gregorian calendar repeats every 400 years: no occurrence in 400 years means never.
_SEARCH_YEARS = 400


class CrontabError(ValueError):
    """An expression NCrontab refuses, with NCrontab's reason."""


@dataclass(frozen=True)
class FieldKind:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()


SECOND = FieldKind("Second", 0, 59)
MINUTE = FieldKind("Minute", 0, 59)
HOUR = FieldKind("Hour", 0, 23)
DAY = FieldKind("Day", 1, 31)
MONTH = FieldKind(
    "Month",
    1,
    12,
    (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
)
DAY_OF_WEEK = FieldKind(
    "DayOfWeek",
    0,
    6,
    ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"),
)
KINDS = (SECOND, MINUTE, HOUR, DAY, MONTH, DAY_OF_WEEK)


@dataclass(frozen=True)
class Schedule:
    """The set of values each field allows; `seconds` is {0} for a five-field expression."""

    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]

    def next_after(self, moment: datetime) -> datetime | None:
        """The first occurrence strictly after `moment` (whole seconds), or None if never."""
        current = moment.replace(microsecond=0) + timedelta(seconds=1)
        last_year = current.year + _SEARCH_YEARS
        while current.year <= last_year:
            skipped = self._skip(current)
            if skipped is None:
                return current
            current = skipped
        return None

    def _skip(self, t: datetime) -> datetime | None:
        """None if `t` matches, else the first moment that could match after it."""
        if t.month not in self.months:
            return _first_of_next_month(t)
        # Day of month and day of week must both match (isoweekday: Sunday is 7).
        if t.day not in self.days or t.isoweekday() % 7 not in self.days_of_week:
            return t.replace(hour=0, minute=0, second=0) + timedelta(days=1)
        if t.hour not in self.hours:
            return t.replace(minute=0, second=0) + timedelta(hours=1)
        if t.minute not in self.minutes:
            return t.replace(second=0) + timedelta(minutes=1)
        if t.second not in self.seconds:
            return t + timedelta(seconds=1)
        return None


def _first_of_next_month(t: datetime) -> datetime:
    start = t.replace(day=1, hour=0, minute=0, second=0)
    return (start + timedelta(days=32)).replace(day=1)


def parse(expression: str) -> Schedule:
    """Parse as Azure's timer does; raises CrontabError with NCrontab's message."""
    tokens = [token for token in expression.split(" ") if token]
    with_seconds = len(tokens) != 5
    if with_seconds and len(tokens) != 6:
        raise CrontabError(
            f"'{expression}' is an invalid crontab expression. It must contain 6 components of "
            "a schedule in the sequence of seconds, minutes, hours, days, months, and days of "
            "week."
        )
    kinds = KINDS if with_seconds else KINDS[1:]
    fields = [parse_field(kind, token) for kind, token in zip(kinds, tokens, strict=True)]
    if not with_seconds:
        fields.insert(0, frozenset({0}))
    return Schedule(*fields)


def parse_field(kind: FieldKind, text: str) -> frozenset[int]:
    values: set[int] = set()
    try:
        _parse_list(kind, text, values)
    except CrontabError as exc:
        raise CrontabError(
            f"'{text}' is not a valid [{kind.name}] crontab field expression. {exc}"
        ) from None
    return frozenset(values)


def _parse_list(kind: FieldKind, text: str, values: set[int]) -> None:
    if not text:
        raise CrontabError("A crontab field value cannot be empty.")
    if text.find(",") > 0:
        for part in text.split(","):
            _parse_list(kind, part, values)
        return
    every: int | None = None
    slash = text.find("/")
    if slash > 0:
        every = _integer(text[slash + 1 :])
        text = text[:slash]
    _parse_range(kind, text, every, values)


def _parse_range(kind: FieldKind, text: str, every: int | None, values: set[int]) -> None:
    if text == "*":
        _accumulate(kind, -1, -1, 1 if every is None else every, values)
        return
    dash = text.find("-")
    if dash > 0:
        first = _value(kind, text[:dash])
        last = _value(kind, text[dash + 1 :])
        _accumulate(kind, first, last, 1 if every is None else every, values)
        return
    value = _value(kind, text)
    if every is None:
        _accumulate(kind, value, value, 1, values)
    else:
        _accumulate(kind, value, kind.high, every, values)


def _value(kind: FieldKind, text: str) -> int:
    if not text:
        raise CrontabError("A crontab field value cannot be empty.")
    if "0" <= text[0] <= "9":
        return _integer(text)
    if not kind.names:
        raise CrontabError(
            f"'{text}' is not a valid [{kind.name}] crontab field value. It must be a numeric "
            f"value between {kind.low} and {kind.high} (all inclusive)."
        )
    for index, name in enumerate(kind.names):
        if name.lower().startswith(text.lower()):
            return index + kind.low
    raise CrontabError(
        f"'{text}' is not a known value name. Use one of the following: {', '.join(kind.names)}."
    )


def _integer(text: str) -> int:
    found = _INTEGER.fullmatch(text)
    if not found or int(found.group(1)) not in _INT32:
        raise CrontabError(f"'{text}' is not a whole number.")
    return int(found.group(1))


def _accumulate(kind: FieldKind, start: int, end: int, interval: int, values: set[int]) -> None:
    if start == end and start < 0:
        start, end = kind.low, kind.high  # `*`
    elif start == end:
        _in_range(kind, start)
    else:
        start, end = min(start, end), max(start, end)
        _in_range(kind, start)
        _in_range(kind, end)
    values.update(range(start, end + 1, max(interval, 1)))


def _in_range(kind: FieldKind, value: int) -> None:
    if value < kind.low:
        raise CrontabError(
            f"{value} is lower than the minimum allowable value for the [{kind.name}] field. "
            f"Value must be between {kind.low} and {kind.high} (all inclusive)."
        )
    if value > kind.high:
        raise CrontabError(
            f"{value} is higher than the maximum allowable value for the [{kind.name}] field. "
            f"Value must be between {kind.low} and {kind.high} (all inclusive)."
        )
