"""The settings added for operations: the endpoint as users paste it, the price table, and the
telemetry switches (which must be readable when the rest of the settings are not)."""

from __future__ import annotations

import pytest

from shared.config import LOCAL_ONLY, Settings, SettingsError, TelemetrySettings

BASE = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


@pytest.mark.parametrize(
    "pasted",
    [
        "https://myres.openai.azure.com",
        "https://myres.openai.azure.com/",
        "https://myres.openai.azure.com/openai/",
        "https://myres.openai.azure.com/openai",
        "https://myres.openai.azure.com/openai/v1/",
        "https://myres.openai.azure.com/openai/v1",
        "https://myres.openai.azure.com/OpenAI/V1/",
        "  https://myres.openai.azure.com/openai/v1//  ",
    ],
)
def test_endpoint_is_the_resource_address_whatever_was_pasted_after_it(pasted):
    settings = Settings.from_env({**BASE, "AZURE_OPENAI_ENDPOINT": pasted})
    assert settings.openai_endpoint == "https://myres.openai.azure.com"


def test_emulator_endpoint_keeps_its_port():
    settings = Settings.from_env({**BASE, "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:8040/openai/"})
    assert settings.openai_endpoint == "http://127.0.0.1:8040"


def test_a_path_that_is_not_the_api_is_kept():
    # Only the API's own prefixes are removed; anything else is the user's (a proxy, say).
    settings = Settings.from_env({**BASE, "AZURE_OPENAI_ENDPOINT": "https://gw.example/aoai/"})
    assert settings.openai_endpoint == "https://gw.example/aoai"


@pytest.mark.parametrize("bad", ["myres.openai.azure.com", "ftp://x", "https://", "/openai/v1/"])
def test_endpoint_without_scheme_or_host_is_refused_by_name(bad):
    with pytest.raises(SettingsError, match="AZURE_OPENAI_ENDPOINT"):
        Settings.from_env({**BASE, "AZURE_OPENAI_ENDPOINT": bad})


ENDPOINT = {**BASE, "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:1"}
PRICE = '{"my-model": {"input": 1, "output": 2.5, "batch_input": 0.5, "batch_output": 1.25}}'


def test_prices_default_to_no_override():
    assert Settings.from_env(ENDPOINT).prices == {}


def test_prices_are_parsed_per_model():
    prices = Settings.from_env({**ENDPOINT, "BATCH_PRICES": PRICE}).prices
    assert prices == {
        "my-model": {"input": 1.0, "output": 2.5, "batch_input": 0.5, "batch_output": 1.25}
    }


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        '{"m": {"input": 1, "output": 2}}',
        '{"m": {"input": 1, "output": 2, "batch_input": 1, "batch_output": -1}}',
        '{"m": {"input": "1", "output": 2, "batch_input": 1, "batch_output": 1}}',
        '{"m": {"input": NaN, "output": 2, "batch_input": 1, "batch_output": 1}}',
        '{"m": {"input": Infinity, "output": 2, "batch_input": 1, "batch_output": 1}}',
        '{"m": {"input": true, "output": 2, "batch_input": 1, "batch_output": 1}}',
        '{"m": {"input": 1, "output": 2, "batch_input": 1, "batch_output": 1, "x": 1}}',
    ],
)
def test_a_bad_price_table_is_refused_by_name(raw):
    with pytest.raises(SettingsError, match="BATCH_PRICES"):
        Settings.from_env({**ENDPOINT, "BATCH_PRICES": raw})


def test_telemetry_settings_read_without_the_rest():
    # No storage, no endpoint: telemetry must still configure (it runs at import time).
    telemetry = TelemetrySettings.from_env(
        {
            "BATCHDROP_TELEMETRY_FILE": " /tmp/t.jsonl ",
            "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=x",
            "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY": "True",
        }
    )
    assert telemetry == TelemetrySettings(
        file="/tmp/t.jsonl", connection_string=True, worker_exports=True
    )
    assert TelemetrySettings.from_env({}) == TelemetrySettings(None, False, False)


def test_the_telemetry_file_stays_out_of_azure():
    assert "BATCHDROP_TELEMETRY_FILE" in LOCAL_ONLY
