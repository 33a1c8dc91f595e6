"""The chaos run's workload, all drawn from one seed: inputs of every kind and size, and what
happens to them while they run (the same content twice, a new version of a name, a delete, a
cancel through the HTTP API or the store)."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field, replace

import orjson

DEPLOYMENTS = ("gpt-4o-mini-batch", "gpt-4.1-batch")
# In every prompt and CSV value: it must never reach a log line, the telemetry or the table.
CANARY = "zqxcanary"

# Folder settings, uploaded before any input; each kind of input lives in its own folder.
SETTINGS: dict[str, dict] = {
    "tables/_job.json": {"template": "Describe {item} in the colour {colour}.", "system": "Brief."},
    "shapes/_job.json": {
        "template": "Facts about {item}.",
        "json_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "year": {"type": "integer"}},
            "required": ["city", "year"],
            "additionalProperties": False,
        },
    },
}
KINDS = ("native", "mixed", "prompt", "numbered", "csv", "shaped", "array", "text", "bad")
FOLDERS = {
    "native": ("native", "jsonl"),
    "mixed": ("native", "jsonl"),
    "prompt": ("prompts", "jsonl"),
    "numbered": ("prompts", "jsonl"),
    "csv": ("tables", "csv"),
    "shaped": ("shapes", "csv"),
    "array": ("arrays", "json"),
    "text": ("texts", "txt"),
    "bad": ("bad", "jsonl"),
}
WITH_CSV = frozenset({"prompt", "numbered", "csv", "shaped", "array", "text"})


@dataclass(frozen=True)
class Version:
    """One upload: its bytes and what a correct run of it produces."""

    name: str
    kind: str
    data: bytes
    ids: tuple[str, ...]  # the custom_ids of results.jsonl, in input order; () if rejected
    tag: str  # in every request it makes: tells its results from another version's

    @property
    def rejected(self) -> bool:
        return self.kind == "bad"

    @property
    def writes_csv(self) -> bool:
        return self.kind in WITH_CSV


@dataclass(frozen=True)
class Action:
    at: float  # seconds after the storm starts
    verb: str  # upload, delete, cancel_http, cancel_store
    name: str
    version: Version | None = None
    tries: int = 0  # a cancel before the job is recorded is tried again a little later


@dataclass
class Workload:
    actions: list[Action] = field(default_factory=list)
    roles: dict[str, int] = field(default_factory=dict)

    def versions(self) -> list[Version]:
        return [a.version for a in self.actions if a.version is not None]


def make_version(rng: random.Random, kind: str, name: str, tag: str, size: int) -> Version:
    ids = tuple(f"{tag}-{i}" for i in range(size))
    if kind in ("text", "numbered"):
        ids = tuple(str(n) for n in range(1, size + 1))
    data = BUILDERS[kind](rng, tag, ids)
    return Version(name, kind, data, () if kind == "bad" else ids, tag)


def _prompt(tag: str, i: object) -> str:
    return f"{CANARY} {tag} question {i}: what is the capital of country number {i}?"


def _native(rng: random.Random, tag: str, ids: tuple[str, ...], mixed: bool = False) -> bytes:
    lines = []
    for cid in ids:
        model = rng.choice(DEPLOYMENTS) if mixed else DEPLOYMENTS[0]
        body = {"model": model, "messages": [{"role": "user", "content": _prompt(tag, cid)}]}
        lines.append({"custom_id": cid, "method": "POST", "url": "/chat/completions", "body": body})
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def _prompts(_rng: random.Random, tag: str, ids: tuple[str, ...]) -> bytes:
    rows = [{"custom_id": c, "prompt": _prompt(tag, c), "topic": "geo"} for c in ids]
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def _numbered(_rng: random.Random, tag: str, ids: tuple[str, ...]) -> bytes:
    return b"".join(orjson.dumps({"prompt": _prompt(tag, c)}) + b"\n" for c in ids)


def _table(_rng: random.Random, tag: str, ids: tuple[str, ...]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["custom_id", "item", "colour"])
    for cid in ids:
        writer.writerow([cid, f"{CANARY} {tag} tower {cid}", "blue, or green"])
    return out.getvalue().encode()


def _array(_rng: random.Random, tag: str, ids: tuple[str, ...]) -> bytes:
    return orjson.dumps([{"custom_id": c, "prompt": _prompt(tag, c)} for c in ids])


def _text(_rng: random.Random, tag: str, ids: tuple[str, ...]) -> bytes:
    return "".join(_prompt(tag, c) + "\n" for c in ids).encode()


def _bad(rng: random.Random, tag: str, ids: tuple[str, ...]) -> bytes:
    good = _native(rng, tag, ids)
    return good + b'{"custom_id": "broken", "method": "POST", "url": \n'


BUILDERS = {
    "native": _native,
    "mixed": lambda rng, tag, ids: _native(rng, tag, ids, mixed=True),
    "prompt": _prompts,
    "numbered": _numbered,
    "csv": _table,
    "shaped": _table,
    "array": _array,
    "text": _text,
    "bad": _bad,
}


def draw_size(rng: random.Random) -> int:
    """Mostly small; now and then one that BATCH_MAX_REQUESTS splits into several parts."""
    return rng.choice((1, 2, 3, 5, 7, 9, 12)) if rng.random() < 0.8 else rng.randint(17, 30)


def build(seed: int, inputs: int, spread: float) -> Workload:
    """`inputs` uploads over `spread` seconds, then the duplicates, overwrites, deletes and
    cancels, each on its own inputs (so what to expect of each stays clear)."""
    rng = random.Random(seed)
    work = Workload()
    firsts = []
    for n in range(inputs):
        kind = KINDS[n % len(KINDS)]
        folder, ext = FOLDERS[kind]
        name = f"{folder}/{kind}-{n:02d}.{ext}"
        version = make_version(rng, kind, name, f"s{seed}n{n}", draw_size(rng))
        at = round(n * spread / inputs + rng.uniform(0, 0.5), 2)
        firsts.append(Action(at, "upload", name, version))
    work.actions.extend(firsts)
    _add_events(rng, work, firsts, max(1, inputs // 8))
    work.actions.sort(key=lambda a: a.at)
    return work


def _add_events(rng: random.Random, work: Workload, firsts: list[Action], each: int) -> None:
    runnable = [a for a in firsts if a.version and not a.version.rejected]
    picked = rng.sample(runnable, min(len(runnable), 4 * each + 1))
    groups = {
        "duplicate": picked[:each],
        "overwrite": picked[each : 2 * each],
        "delete": picked[2 * each : 3 * each],
        "cancel": picked[3 * each : 4 * each + 1],
    }
    for role, chosen in groups.items():
        work.roles[role] = len(chosen)
        for number, first in enumerate(chosen):
            work.actions.extend(EVENTS[role](rng, first, number))


def _duplicate(rng: random.Random, first: Action, number: int) -> list[Action]:
    assert first.version is not None
    folder, rest = first.name.split("/", 1)
    copy = replace(first.version, name=f"{folder}/copy{number}-{rest}")
    # Early copies run again (the first is still running); late ones find it completed.
    delay = rng.uniform(0.5, 4) if number % 2 else rng.uniform(12, 18)
    return [Action(first.at + delay, "upload", copy.name, copy)]


def _overwrite(rng: random.Random, first: Action, number: int) -> list[Action]:
    """A new version while the first runs; every other one twice within the same second
    (blob times have a one-second resolution)."""
    assert first.version is not None
    at = first.at + rng.uniform(0.3, 5)
    times = [at] if number % 2 else [at, at + 0.2]
    kind, name = first.version.kind, first.name
    return [
        Action(t, "upload", name, make_version(rng, kind, name, f"{name}-v{i + 2}", draw_size(rng)))
        for i, t in enumerate(times)
    ]


def _delete(rng: random.Random, first: Action, number: int) -> list[Action]:
    delay = 0.05 if number == 0 else rng.uniform(1, 6)  # the first one before it can be read
    return [Action(first.at + delay, "delete", first.name)]


def _cancel(rng: random.Random, first: Action, number: int) -> list[Action]:
    verb = "cancel_http" if number % 2 == 0 else "cancel_store"
    return [Action(first.at + rng.uniform(0.3, 6), verb, first.name, first.version)]


EVENTS = {"duplicate": _duplicate, "overwrite": _overwrite, "delete": _delete, "cancel": _cancel}
