import pytest

from shared.config import DEFAULTS, Settings, SettingsError

BASE = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:1/",
}


def test_defaults_match_the_contract():
    s = Settings.from_env(BASE)
    assert s.openai_endpoint == "http://127.0.0.1:1"
    assert (s.input_container, s.output_container, s.jobs_table) == (
        "batch-input",
        "batch-output",
        "batchjobs",
    )
    assert s.poll_schedule == "0 */1 * * * *"
    assert (s.max_requests, s.max_bytes, s.max_attempts) == (100_000, 200_000_000, 3)
    assert s.openai_api_version is None and s.openai_api_key is None


@pytest.mark.parametrize("missing", ["AzureWebJobsStorage", "AZURE_OPENAI_ENDPOINT"])
def test_missing_required_setting_is_named(missing):
    env = {k: v for k, v in BASE.items() if k != missing}
    with pytest.raises(SettingsError, match=missing):
        Settings.from_env(env)


@pytest.mark.parametrize("value", ["0", "-3", "lots"])
def test_bad_numbers_are_refused_with_the_setting_name(value):
    with pytest.raises(SettingsError, match="BATCH_MAX_REQUESTS"):
        Settings.from_env({**BASE, "BATCH_MAX_REQUESTS": value})


def test_identity_based_storage_from_account_name():
    env = {
        "AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com",
        "AzureWebJobsStorage__accountName": "acct",
        "AzureWebJobsStorage__clientId": "cid",
    }
    storage = Settings.from_env(env).storage
    assert storage.connection_string is None
    assert storage.service_uris["queue"] == "https://acct.queue.core.windows.net"
    assert storage.client_id == "cid"


def test_every_setting_has_a_line_in_the_sample_and_readme():
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    sample = json.loads((root / "local.settings.sample.json").read_text())["Values"]
    readme = (root / "README.md").read_text()
    for name in DEFAULTS:
        assert name in sample, f"{name} missing from local.settings.sample.json"
        assert f"`{name}`" in readme, f"{name} missing from the README's settings table"
