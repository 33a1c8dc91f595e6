"""The preprovision hook's checks, run with sh against a fake `az` (tests/integration/hookenv.py).

Each case sets up what Azure would answer and asserts the hook's verdict, its message (what to
change) and which az commands it sent; nothing reaches Azure.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.integration.hookenv import REPO, FakeAz, make_fake_az, run_hook

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa"
MODEL, VERSION = "gpt-5.4-mini", "2026-03-17"
USAGE = f"OpenAI.GlobalBatch.{MODEL}"
MODELS_CMD = "cognitiveservices model list --location swedencentral"
USAGE_CMD = "cognitiveservices usage list --location swedencentral"
FLEX_CMD = "functionapp list-flexconsumption-locations"


def model(name: str, version: str, *skus: str) -> dict[str, Any]:
    return {
        "kind": "OpenAI",
        "skuName": "S0",
        "model": {
            "format": "OpenAI",
            "name": name,
            "version": version,
            "skus": [
                {"name": sku, "usageName": f"OpenAI.{sku}.{name}", "capacity": {"default": 10}}
                for sku in skus
            ],
        },
    }


CATALOGUE = [
    model(MODEL, "2025-12-01", "GlobalStandard", "GlobalBatch"),
    model(MODEL, VERSION, "GlobalStandard", "DataZoneStandard", "GlobalBatch"),
    model("gpt-4.1", "2025-04-14", "GlobalStandard", "GlobalBatch"),
]


def usage(name: str, limit: float, used: float) -> dict[str, Any]:
    return {
        "name": {"value": name, "localizedValue": f"Enqueued tokens (thousands) - {name}"},
        "currentValue": used,
        "limit": limit,
        "unit": "Count",
    }


@pytest.fixture
def az(tmp_path: Path) -> FakeAz:
    fake = make_fake_az(tmp_path)
    fake.answer("account show", {"id": SUBSCRIPTION, "name": "test"})
    fake.answer(MODELS_CMD, CATALOGUE)
    fake.answer(
        USAGE_CMD, [usage("OpenAI.GlobalStandard.gpt-4.1", 1000, 0), usage(USAGE, 50000.0, 2000.0)]
    )
    fake.answer(FLEX_CMD, [{"name": "eastus"}, {"name": "swedencentral"}])
    return fake


ENV = {
    "AZURE_ENV_NAME": "test",
    "AZURE_LOCATION": "swedencentral",
    "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
}


def preflight(az: FakeAz, **overrides: str) -> tuple[int, str]:
    run = run_hook("preprovision.sh", az, {**ENV, **overrides})
    return run.returncode, run.stdout + run.stderr


def test_ok_when_model_version_sku_and_quota_fit(az: FakeAz) -> None:
    code, out = preflight(az)
    assert code == 0, out
    assert "Preflight OK." in out
    assert "PROBLEM" not in out
    # Every call goes to the subscription azd deploys to, not the CLI's current one.
    assert all(call["options"].get("--subscription") == SUBSCRIPTION for call in az.calls())
    assert set(az.commands()) == {"account show", MODELS_CMD, USAGE_CMD, FLEX_CMD}


def test_model_missing_in_region(az: FakeAz) -> None:
    code, out = preflight(az, AZURE_OPENAI_MODEL="gpt-9")
    assert code == 1
    assert "does not offer the model gpt-9" in out
    assert "AZURE_OPENAI_LOCATION" in out and "AZURE_OPENAI_MODEL" in out
    assert USAGE_CMD not in az.commands(), "no quota to check for a model that is not there"


def test_version_missing_lists_the_offered_versions(az: FakeAz) -> None:
    code, out = preflight(az, AZURE_OPENAI_MODEL_VERSION="2024-01-01")
    assert code == 1
    assert f"offers {MODEL} only in version(s): 2025-12-01 {VERSION}" in out
    assert "AZURE_OPENAI_MODEL_VERSION" in out


def test_batch_sku_missing(az: FakeAz) -> None:
    code, out = preflight(az, AZURE_OPENAI_DEPLOYMENT_SKU="DataZoneBatch")
    assert code == 1
    assert f"{MODEL} {VERSION} in swedencentral is not offered as DataZoneBatch" in out
    assert "DataZoneStandard GlobalBatch GlobalStandard" in out
    assert "AZURE_OPENAI_DEPLOYMENT_SKU" in out


def test_quota_too_small_says_how_much_fits(az: FakeAz) -> None:
    code, out = preflight(az, AZURE_OPENAI_DEPLOYMENT_CAPACITY="48001")
    assert code == 1
    assert f"quota {USAGE} in swedencentral has room for 48000 (limit 50000, in use 2000" in out
    assert "azd env set AZURE_OPENAI_DEPLOYMENT_CAPACITY 48000 or less" in out


def test_capacity_that_just_fits_passes(az: FakeAz) -> None:
    code, out = preflight(az, AZURE_OPENAI_DEPLOYMENT_CAPACITY="48000")
    assert code == 0, out


def test_reprovision_counts_the_deployments_own_capacity_as_available(az: FakeAz) -> None:
    account = "cog-abc"
    az.answer(
        f"cognitiveservices account show --name {account} --resource-group rg-test",
        {
            "location": "Sweden Central",
        },
    )
    show = (
        f"cognitiveservices account deployment show --name {account} --resource-group rg-test "
        "--deployment-name gpt-5-4-mini-batch"
    )
    az.answer(
        show, {"name": "gpt-5-4-mini-batch", "sku": {"name": "GlobalBatch", "capacity": 10000}}
    )
    env = {"AZURE_OPENAI_ACCOUNT_NAME": account, "AZURE_RESOURCE_GROUP": "rg-test"}
    code, out = preflight(az, AZURE_OPENAI_DEPLOYMENT_CAPACITY="58000", **env)
    assert code == 0, out
    code, out = preflight(az, AZURE_OPENAI_DEPLOYMENT_CAPACITY="58001", **env)
    assert code == 1
    assert "has room for 58000" in out and "10000 of it by this deployment" in out


@pytest.mark.parametrize(
    "capacity", ["99999999999999999999", "2147483648", "ten", "-5", "0", "1e4", "10 000"]
)
def test_a_capacity_azure_cannot_take_stops_with_one_line_naming_it(
    az: FakeAz, capacity: str
) -> None:
    run = run_hook("preprovision.sh", az, {**ENV, "AZURE_OPENAI_DEPLOYMENT_CAPACITY": capacity})
    assert run.returncode == 1, run.stdout
    [line] = run.stderr.splitlines()
    assert line.startswith(f"Preflight: AZURE_OPENAI_DEPLOYMENT_CAPACITY={capacity} is not ")
    assert "from 1 to 2147483647" in line
    assert "Preflight OK" not in run.stdout and "Illegal number" not in run.stderr
    assert az.calls() == [], "stopped before asking Azure anything"


def test_the_largest_capacity_azure_takes_is_compared_with_the_quota(az: FakeAz) -> None:
    code, out = preflight(az, AZURE_OPENAI_DEPLOYMENT_CAPACITY="2147483647")
    assert code == 1
    assert "has room for 48000" in out and "is 2147483647" in out
    code, out = preflight(az, AZURE_OPENAI_DEPLOYMENT_CAPACITY="048000")
    assert code == 0 and "capacity 48000," in out, out


def test_crlf_output_of_a_windows_az_is_read_like_lf(az: FakeAz) -> None:
    # az.cmd called from WSL ends lines with CRLF: the versions, the SKU's quota name, the
    # quota's numbers and the regions must still compare equal.
    code, out = preflight(az, FAKE_AZ_CRLF="1")
    assert code == 0, out
    assert "Preflight OK." in out
    code, out = preflight(az, FAKE_AZ_CRLF="1", AZURE_OPENAI_DEPLOYMENT_CAPACITY="48001")
    assert code == 1
    assert "has room for 48000 (limit 50000, in use 2000," in out


def test_not_logged_in_stops_before_any_other_call(az: FakeAz) -> None:
    az.answer(
        "account show", exit_code=1, stderr="ERROR: Please run 'az login' to setup account.\n"
    )
    code, out = preflight(az)
    assert code == 1
    assert "Run: az login" in out
    assert az.commands() == ["account show"]


def test_region_without_flex_consumption(az: FakeAz) -> None:
    code, out = preflight(az, AZURE_LOCATION="westus9", AZURE_OPENAI_LOCATION="swedencentral")
    assert code == 1
    assert "westus9 does not offer Flex Consumption" in out
    assert "AZURE_LOCATION" in out


def test_zone_redundancy_asks_for_zone_redundant_regions(az: FakeAz) -> None:
    az.answer(f"{FLEX_CMD} --zone-redundant=true", [{"name": "eastus"}])
    code, out = preflight(az, BATCHDROP_ZONE_REDUNDANT="true")
    assert code == 1
    assert "does not offer zone-redundant Flex Consumption" in out
    assert "BATCHDROP_ZONE_REDUNDANT=false" in out


def test_every_problem_is_reported_at_once(az: FakeAz) -> None:
    code, out = preflight(
        az,
        AZURE_OPENAI_DEPLOYMENT_CAPACITY="90000",
        AZURE_LOCATION="westus9",
        AZURE_OPENAI_LOCATION="swedencentral",
    )
    assert code == 1
    assert "Preflight found 2 problem(s)" in out


def test_defaults_are_those_of_main_parameters_json() -> None:
    parameters = json.loads((REPO / "infra" / "main.parameters.json").read_text())["parameters"]
    defaults = {
        match.group(1): match.group(2)
        for entry in parameters.values()
        if (match := re.fullmatch(r"\$\{(\w+)=(.*)\}", entry["value"]))
    }
    script = (REPO / "scripts" / "preprovision.sh").read_text()
    used = dict(re.findall(r"\$\{(AZURE_OPENAI_\w+|BATCHDROP_\w+):-([^}$]+)\}", script))
    assert used, "the hook reads its settings with defaults"
    for name, value in used.items():
        if name in defaults:
            assert defaults[name] == value, (
                f"{name}: hook default {value}, parameters {defaults[name]}"
            )
    assert {"AZURE_OPENAI_MODEL", "AZURE_OPENAI_DEPLOYMENT_CAPACITY"} <= set(used)
