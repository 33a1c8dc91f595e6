"""Fault rules: the registry of kinds, their parsers, and the rule set with scope and chance.

A rule is a JSON object `{"kind": ..., ...}`. Besides its kind's own fields, every rule takes:
`times` (uses left; null = unlimited), `probability` (0..1: each time the rule could apply,
it does with this chance), `seed` (for that chance; default derived from the list's seed and
the rule's position, so a seeded chaos run repeats), and the scope fields `deployment` (an
exact deployment name), `filename` (a regex searched in the file name; `^prefix` scopes to a
prefix) and `metadata` ({key: regex} on a batch's metadata). A scoped rule applies only to
calls, files, batches and lines known to be about that scope, never to list calls, so tests
sharing one emulator do not disturb each other.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OBJECTS = ("batch", "file")
COMMON_FIELDS = ("kind", "times", "probability", "seed", "deployment", "filename", "metadata")


class RuleError(ValueError):
    """A fault rule that cannot be understood."""


# ----- what a call, file, batch or line is about -------------------------------------------


@dataclass(frozen=True)
class Facts:
    deployments: frozenset[str] = frozenset()
    filenames: tuple[str, ...] = ()
    metadata: dict[str, str] | None = None


class Scope:
    """Facts worked out only when a scoped rule asks (finding an upload's deployments means
    reading the file)."""

    def __init__(self, resolve: Callable[[], Facts] | None = None) -> None:
        self._resolve = resolve
        self._facts: Facts | None = None

    @classmethod
    def of(cls, facts: Facts) -> Scope:
        scope = cls()
        scope._facts = facts
        return scope

    def facts(self) -> Facts:
        if self._facts is None:
            self._facts = self._resolve() if self._resolve is not None else Facts()
        return self._facts


UNSCOPED = Scope.of(Facts())


# ----- field parsers -------------------------------------------------------------------------


def field_of(raw: dict, key: str, types: type | tuple[type, ...], default: Any = None) -> Any:
    value = raw.get(key, default)
    if value is None:
        return None
    wanted = types if isinstance(types, tuple) else (types,)
    # JSON true is a Python int: only fields that ask for a boolean take one.
    if isinstance(value, bool) and bool not in wanted or not isinstance(value, wanted):
        raise RuleError(f"fault field '{key}' has the wrong type")
    return value


def regex_of(raw: dict, key: str, default: str | None = ".*") -> re.Pattern[str] | None:
    pattern = field_of(raw, key, str, default)
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise RuleError(f"fault field '{key}' is not a valid regex: {exc}") from exc


def choice_of(raw: dict, key: str, allowed: tuple[str, ...], default: str | None) -> str:
    value = raw.get(key, default)
    if value not in allowed:
        raise RuleError(f"fault field '{key}' must be one of {', '.join(allowed)}")
    return value


def fraction_of(raw: dict, key: str, default: float) -> float:
    value = float(field_of(raw, key, (int, float), default))
    if not 0 <= value <= 1:
        raise RuleError(f"fault field '{key}' must be within 0..1")
    return value


def count_of(raw: dict, key: str, default: int) -> int:
    value = field_of(raw, key, int, default)
    if value < 0:
        raise RuleError(f"fault field '{key}' must not be negative")
    return value


def _metadata_of(raw: dict) -> dict[str, re.Pattern[str]]:
    wanted = field_of(raw, "metadata", dict, {})
    return {key: regex_of(wanted, key) for key in wanted}  # type: ignore[misc]


# ----- rules ---------------------------------------------------------------------------------


@dataclass
class Rule:
    kind: str
    params: dict[str, Any]
    times: int | None
    raw: dict[str, Any]
    probability: float = 1.0
    rng: random.Random = field(default_factory=random.Random)
    deployment: str | None = None
    filename: re.Pattern[str] | None = None
    metadata: dict[str, re.Pattern[str]] = field(default_factory=dict)
    applied: int = 0  # how often it took effect: a chaos run reports its faults by kind

    def describe(self) -> dict[str, Any]:
        return {**self.raw, "remaining": self.times, "applied": self.applied}

    def scoped(self) -> bool:
        return self.deployment is not None or self.filename is not None or bool(self.metadata)

    def in_scope(self, scope: Scope) -> bool:
        if not self.scoped():
            return True
        facts = scope.facts()
        if self.deployment is not None and self.deployment not in facts.deployments:
            return False
        if self.filename is not None and not any(self.filename.search(f) for f in facts.filenames):
            return False
        metadata = facts.metadata or {}
        return all(
            isinstance(metadata.get(key), str) and pattern.search(metadata[key])
            for key, pattern in self.metadata.items()
        )

    def draw(self) -> bool:
        return self.probability >= 1 or self.rng.random() < self.probability


@dataclass(frozen=True)
class Spec:
    parse: Callable[[dict], dict]
    default_times: int | None
    fields: tuple[str, ...]
    summary: str  # one line for `--help`; the README's table says the same at length


KINDS: dict[str, Spec] = {}


def kind(
    name: str, default_times: int | None, fields: tuple[str, ...], summary: str
) -> Callable[[Callable[[dict], dict]], Callable[[dict], dict]]:
    """Registers a parser as fault kind `name`."""

    def register(parse: Callable[[dict], dict]) -> Callable[[dict], dict]:
        KINDS[name] = Spec(parse, default_times, fields, summary)
        return parse

    return register


def parse_rule(raw: Any, seed: str) -> Rule:
    if not isinstance(raw, dict):
        raise RuleError("each fault rule must be a JSON object")
    spec = KINDS.get(raw.get("kind"))  # type: ignore[arg-type]
    if spec is None:
        raise RuleError(f"unknown fault kind {raw.get('kind')!r}; known: {', '.join(KINDS)}")
    unknown = sorted(set(raw) - set(COMMON_FIELDS) - set(spec.fields))
    if unknown:
        raise RuleError(f"unknown field(s) {', '.join(unknown)} for fault kind {raw['kind']!r}")
    rule_seed = field_of(raw, "seed", (int, str), seed)
    return Rule(
        kind=raw["kind"],
        params=spec.parse(raw),
        times=field_of(raw, "times", int, spec.default_times),
        raw=dict(raw),
        probability=fraction_of(raw, "probability", 1.0),
        rng=random.Random(str(rule_seed)),
        deployment=field_of(raw, "deployment", str),
        filename=regex_of(raw, "filename", None),
        metadata=_metadata_of(raw),
    )


def _any(_: dict) -> bool:
    return True


class Faults:
    """The active rules and the per-custom_id attempt counter (thread-safe).

    Scope facts are worked out outside the lock: resolving them may read the emulator's
    state, whose lock is held by callers that then come here.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        # Rules by kind, replaced whole and never changed in place, so a look-up for a kind
        # with no rules (most of them, for every line of a big batch) takes no lock.
        self._by_kind: dict[str, list[Rule]] = {}
        self._attempts: Counter[str] = Counter()

    def replace(self, raw_rules: Any, seed: int | str | None = None) -> None:
        if not isinstance(raw_rules, list):
            raise RuleError("faults must be a JSON list of rules")
        base = "0" if seed is None else str(seed)
        rules = [parse_rule(raw, f"{base}:{index}") for index, raw in enumerate(raw_rules)]
        by_kind: dict[str, list[Rule]] = {}
        for rule in rules:
            by_kind.setdefault(rule.kind, []).append(rule)
        with self._lock:
            self._rules = rules
            self._by_kind = by_kind
            self._attempts.clear()

    def clear(self) -> None:
        self.replace([])

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def take(
        self, kind: str, scope: Scope = UNSCOPED, match: Callable[[dict], bool] = _any
    ) -> dict | None:
        """Use up one application of the first live rule of `kind` that matches, is in
        scope and wins its draw."""
        for rule in self._by_kind.get(kind, ()):
            if rule.times == 0 or not (match(rule.params) and rule.in_scope(scope)):
                continue
            with self._lock:
                live = rule.times != 0 and any(r is rule for r in self._rules)
                if live and rule.draw():
                    if rule.times is not None:
                        rule.times -= 1
                    rule.applied += 1
                    return rule.params
        return None

    def any_active(self, kind: str) -> bool:
        return any(rule.times != 0 for rule in self._by_kind.get(kind, ()))

    def next_attempt(self, custom_id: str) -> int:
        with self._lock:
            self._attempts[custom_id] += 1
            return self._attempts[custom_id]
