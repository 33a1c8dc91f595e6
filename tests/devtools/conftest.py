"""Fixtures for the emulator's own tests."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from devtools.emulator import Emulator
from tests.devtools.kit import CLIENTS, make_emulator


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with make_emulator() as emulator:
        yield emulator


@pytest.fixture(params=sorted(CLIENTS))
def client(request: pytest.FixtureRequest, emu: Emulator) -> openai.OpenAI:
    return CLIENTS[request.param](emu.url)
