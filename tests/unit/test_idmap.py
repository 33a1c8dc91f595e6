"""shared/idmap.py: the compact custom_id map behaves like a dict, also when every id shares
one hash, and its records come back from disk byte for byte."""

from __future__ import annotations

import random

import pytest

from shared.idmap import BUFFER, IdMap, RecordLog


def keyed_map(dict_limit: int, hash_of=hash) -> tuple[IdMap, RecordLog]:
    """A map whose values are places of records that hold their key, as the app's are."""
    log = RecordLog()
    ids = IdMap(lambda place: log.read(place).decode(), None, dict_limit, hash_of)
    return ids, log


@pytest.mark.parametrize("dict_limit", [10**9, 0, 50])
@pytest.mark.parametrize("hash_of", [hash, lambda key: hash(key) % 8], ids=["hash", "8-hashes"])
def test_the_map_behaves_like_a_dict(dict_limit, hash_of):
    ids, log = keyed_map(dict_limit, hash_of)
    model: dict[str, int] = {}
    rng = random.Random(3)
    keys = [f"id-{n}" for n in range(400)]
    for _ in range(3000):
        key, action = rng.choice(keys), rng.random()
        if action < 0.5:
            place = log.append(key.encode())
            assert ids.setdefault(key, place) == model.get(key)
            model.setdefault(key, place)
        elif action < 0.8:
            place = log.append(key.encode())
            ids.put(key, place)
            model[key] = place
        else:
            assert ids.pop(key) == model.pop(key, None)
        assert ids.get(key) == model.get(key)
    assert len(ids) == len(model)
    assert sorted(ids.values()) == sorted(model.values())
    assert ids.compact == (dict_limit < 400)


def test_the_compact_map_holds_no_keys_and_little_memory():
    ids, log = keyed_map(0)
    for n in range(100_000):
        key = f"request-{n:08d}"
        assert ids.setdefault(key, log.append(key.encode())) is None
    assert ids.compact and len(ids) == 100_000
    slots = len(ids._hashes)  # noqa: SLF001 - the memory is the point
    assert slots * 12 <= 100_000 * 36  # 4 + 8 bytes a slot, at least a third full
    assert ids.get("request-00054321") is not None and ids.get("request-x") is None


def test_records_come_back_from_memory_and_from_the_file():
    log = RecordLog()
    records = [bytes([n % 251]) * (n * 37 % 5000) for n in range(2000)]
    places = [log.append(record) for record in records]
    assert log.size > BUFFER  # some went to the file
    for place, record in zip(places, records, strict=True):
        assert log.read(place) == record
