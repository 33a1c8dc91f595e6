"""The emulator counts how often each fault rule took effect, so a chaos run can report the
faults it met by kind (and a rule that never fired shows up as 0)."""

from __future__ import annotations

from tests.devtools.kit import KEY, make_emulator, raw_request


def test_each_rule_reports_how_often_it_took_effect() -> None:
    with make_emulator() as emu:
        emu.set_faults(
            [
                {
                    "kind": "http",
                    "path": "/batches$",
                    "status": 503,
                    "html": False,
                    "times": None,
                    "probability": 0.5,
                },
                {"kind": "http", "path": "/never$", "status": 500, "times": None},
            ],
            seed=3,
        )
        url = f"{emu.url}/openai/v1/batches"
        statuses = [raw_request(url, headers={"api-key": KEY})[0] for _ in range(30)]
        flaky, unused = emu.faults()
    assert 0 < statuses.count(503) < 30
    assert flaky["applied"] == statuses.count(503) and flaky["remaining"] is None
    assert unused["applied"] == 0


def test_replacing_the_rules_starts_the_counts_again() -> None:
    with make_emulator() as emu:
        rule = {"kind": "http", "path": "/batches$", "status": 500, "times": 2}
        emu.set_faults([rule])
        url = f"{emu.url}/openai/v1/batches"
        for _ in range(3):
            raw_request(url, headers={"api-key": KEY})
        assert emu.faults()[0]["applied"] == 2
        emu.set_faults([rule])
        assert emu.faults()[0]["applied"] == 0
