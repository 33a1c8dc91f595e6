"""How long `batchdrop` waits for storage: --storage-timeout, else BATCHDROP_STORAGE_TIMEOUT,
else 10 s; a silent storage costs one wait, never the SDK's minutes of retries."""

from __future__ import annotations

import pytest

from batchdrop_cli.__main__ import parser
from batchdrop_cli.connect import DEFAULT_TIMEOUT, ConnectError, Connection, client_options

AZURITE = "UseDevelopmentStorage=true"


def timeout(*flags: str, **env: str) -> float:
    args = parser().parse_args([*flags, "--connection-string", AZURITE, "jobs"])
    return Connection.from_args(args, env).timeout


def test_the_flag_then_the_variable_then_ten_seconds():
    assert timeout() == DEFAULT_TIMEOUT == 10
    assert timeout(BATCHDROP_STORAGE_TIMEOUT="2.5") == 2.5
    assert timeout("--storage-timeout", "3", BATCHDROP_STORAGE_TIMEOUT="2.5") == 3


@pytest.mark.parametrize("given", ["0", "-1", "soon", "nan", "inf"])
def test_a_timeout_that_is_no_positive_number_is_refused_naming_both(given):
    with pytest.raises(ConnectError, match="--storage-timeout, BATCHDROP_STORAGE_TIMEOUT"):
        timeout(BATCHDROP_STORAGE_TIMEOUT=given)


def test_a_silent_storage_costs_one_wait_and_a_refused_one_a_second_try():
    options = client_options(DEFAULT_TIMEOUT)
    assert options["read_timeout"] == 10 and options["connection_timeout"] == 5
    assert options["retry_read"] == 0 and options["retry_connect"] == 1
    assert options["retry_total"] == 1  # not the SDK's 10 (tables) with back-off
    assert client_options(1)["connection_timeout"] == 1
