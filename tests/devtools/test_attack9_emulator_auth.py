"""Issue 9 (attack): credentials the emulator was started with but left empty (`--api-key
"$KEY"` with KEY unset) open nothing, as Azure never accepts an empty key or token, and a
token Azure would refuse is a 401, never a crashed request."""

from __future__ import annotations

from typing import Any

import pytest

from devtools.emulator import mint_token
from tests.devtools.kit import SECRET, make_emulator, raw_request

BATCHES = "/openai/v1/batches"


@pytest.mark.parametrize(
    ("setting", "headers", "path"),
    [
        ({"api_key": ""}, {"api-key": ""}, BATCHES),
        ({"api_key": ""}, {"Authorization": "Bearer"}, BATCHES),
        ({"admin_token": ""}, {"Authorization": "Bearer"}, "/_emulator/state"),
        ({"admin_token": ""}, {"Authorization": "Bearer "}, "/_emulator/faults"),
    ],
)
def test_an_empty_credential_setting_opens_nothing(
    setting: dict[str, Any], headers: dict[str, str], path: str
) -> None:
    with make_emulator(**setting) as emu:
        assert raw_request(emu.url + path, headers=headers)[0] in (401, 403)


def test_an_empty_entra_secret_trusts_no_token() -> None:
    with make_emulator(entra_secret="") as emu:
        forged = mint_token("")  # anyone can sign with the empty key
        status = raw_request(emu.url + BATCHES, headers={"Authorization": f"Bearer {forged}"})[0]
        assert status == 401


def test_a_token_with_a_non_ascii_signature_gets_a_401() -> None:
    with make_emulator() as emu:
        head, body, _signature = mint_token(SECRET).split(".")
        bad = {"Authorization": f"Bearer {head}.{body}.\u00e9"}
        assert raw_request(emu.url + BATCHES, headers=bad)[0] == 401
