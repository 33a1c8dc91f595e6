"""Who may call the emulator: the API key, Entra ID tokens checked as Azure checks them, and
the admin token that guards `/_emulator/...`."""

from __future__ import annotations

import time

import openai
import orjson
import pytest

from devtools.emulator import Emulator, RuleError, mint_token
from tests.devtools.kit import ADMIN, KEY, SECRET, admin, dated_client, make_emulator, raw_request

AUDIENCE = "https://cognitiveservices.azure.com"
TOKEN_BODY = {
    "statusCode": 401,
    "message": "Unauthorized. Access token is missing, invalid, audience is incorrect "
    "(https://cognitiveservices.azure.com), or have expired.",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def files_status(emu: Emulator, headers: dict[str, str], v1: bool = False) -> int:
    path = "/openai/v1/files" if v1 else "/openai/files?api-version=2024-10-21"
    return raw_request(emu.url + path, headers=headers)[0]


# ----- API keys --------------------------------------------------------------------------------


def test_api_key_must_equal_the_configured_one(emu: Emulator) -> None:
    assert files_status(emu, {"api-key": KEY}) == 200
    with pytest.raises(openai.AuthenticationError) as refused:
        dated_client(emu.url, api_key="wrong").files.list()
    assert refused.value.code == "401"
    assert "invalid subscription key" in refused.value.message
    status, _, body = raw_request(f"{emu.url}/openai/v1/files")  # no credentials at all
    assert status == 401 and orjson.loads(body)["error"]["code"] == "401"


def test_v1_takes_the_key_as_a_bearer_value(emu: Emulator) -> None:
    client = openai.OpenAI(base_url=f"{emu.url}/openai/v1/", api_key=KEY, max_retries=0)
    assert client.files.list().data == []
    assert files_status(emu, bearer("wrong-key"), v1=True) == 401
    assert files_status(emu, bearer(KEY)) == 401  # the dated API wants `api-key`


def test_without_a_configured_key_every_key_is_refused() -> None:
    with make_emulator(api_key=None) as emu:
        assert files_status(emu, {"api-key": KEY}) == 401
        assert files_status(emu, {"api-key": ""}) == 401
        assert files_status(emu, bearer(mint_token(SECRET))) == 200  # Entra ID still works


# ----- Entra ID tokens -------------------------------------------------------------------------


def test_a_signed_token_for_cognitive_services_is_accepted(emu: Emulator) -> None:
    token = mint_token(SECRET)
    entra = openai.AzureOpenAI(
        azure_endpoint=emu.url, api_version="2024-10-21", azure_ad_token=token, max_retries=0
    )
    assert list(entra.batches.list()) == []
    v1 = openai.OpenAI(base_url=f"{emu.url}/openai/v1/", api_key=token, max_retries=0)
    assert v1.files.list().data == []
    for audience in (AUDIENCE + "/", ["https://other.example", AUDIENCE]):
        assert files_status(emu, bearer(mint_token(SECRET, audience=audience))) == 200


def _unsigned(token: str) -> str:
    header, payload, _ = token.split(".")
    none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"  # {"alg":"none","typ":"JWT"}
    return f"{none}.{payload}."


NOW = time.time()
REFUSED = {
    "audience": mint_token(SECRET, audience="https://management.azure.com"),
    "foundry audience": mint_token(SECRET, audience="https://ai.azure.com"),
    "expired": mint_token(SECRET, now=NOW - 7200, lifetime=3600),
    "not yet valid": mint_token(SECRET, now=NOW + 3600),
    "other key": mint_token("another-secret"),
    "unsigned": _unsigned(mint_token(SECRET)),
    "not a JWT": "entra-token-123",
    "garbage": "a.b.c",
}
REASONS = {
    "audience": "audience",
    "foundry audience": "audience",
    "expired": "expired",
    "not yet valid": "not_yet_valid",
    "other key": "signature",
    "unsigned": "algorithm",
    "not a JWT": "malformed",
    "garbage": "malformed",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_tokens_azure_would_refuse_get_401(emu: Emulator, case: str) -> None:
    status, headers, body = raw_request(
        f"{emu.url}/openai/files?api-version=2024-10-21", headers=bearer(REFUSED[case])
    )
    assert status == 401
    assert orjson.loads(body) == TOKEN_BODY  # Azure's gateway shape: no `error` wrapper
    assert headers["x-emulator-auth-error"] == REASONS[case]


def test_the_sdk_reports_a_refused_token_as_an_authentication_error(emu: Emulator) -> None:
    entra = openai.AzureOpenAI(
        azure_endpoint=emu.url,
        api_version="2024-10-21",
        azure_ad_token=REFUSED["expired"],
        max_retries=0,
    )
    with pytest.raises(openai.AuthenticationError, match="audience is incorrect"):
        entra.files.list()


def test_tokens_expire_with_the_clock_after_azures_five_minutes_of_skew() -> None:
    wall = [1_800_000_000.0]
    with make_emulator(wall_clock=lambda: wall[0]) as emu:
        token = mint_token(SECRET, now=wall[0], lifetime=60)
        assert files_status(emu, bearer(token)) == 200
        wall[0] += 60 + 299
        assert files_status(emu, bearer(token)) == 200
        wall[0] += 1
        assert files_status(emu, bearer(token)) == 401


def test_without_a_signing_secret_no_token_is_trusted() -> None:
    with make_emulator(entra_secret=None) as emu:
        status, headers, _ = raw_request(
            f"{emu.url}/openai/v1/files", headers=bearer(mint_token(SECRET))
        )
        assert (status, headers["x-emulator-auth-error"]) == (401, "untrusted")
        assert files_status(emu, {"api-key": KEY}) == 200


# ----- the admin endpoints ---------------------------------------------------------------------

ADMIN_CALLS = [
    ("GET", "/_emulator/state"),
    ("GET", "/_emulator/batches"),
    ("GET", "/_emulator/faults"),
    ("POST", "/_emulator/faults"),
    ("DELETE", "/_emulator/faults"),
    ("POST", "/_emulator/reset"),
    ("GET", "/_emulator/files/file-x/content"),
]


@pytest.mark.parametrize("method,path", ADMIN_CALLS)
def test_admin_endpoints_need_the_admin_token(emu: Emulator, method: str, path: str) -> None:
    emu.set_faults([{"kind": "capitalize_status"}])
    for headers in ({}, bearer("wrong"), bearer(KEY), {"api-key": KEY}, bearer(mint_token(SECRET))):
        status, _, body = raw_request(emu.url + path, method, [], headers)
        assert status == 401, headers
        assert "admin token" in orjson.loads(body)["error"]["message"]
    assert emu.faults()[0]["kind"] == "capitalize_status"  # nothing was changed
    assert raw_request(emu.url + path, method, [], bearer(ADMIN))[0] in (200, 404)


def test_admin_endpoints_are_off_without_an_admin_token() -> None:
    with make_emulator(admin_token=None) as emu:
        for method, path in ADMIN_CALLS:
            status, _, body = raw_request(emu.url + path, method, [], bearer(ADMIN))
            assert status == 403 and orjson.loads(body)["error"]["code"] == "AdminDisabled"
        emu.set_faults([{"kind": "http", "status": 500}])  # in-process control still works
        assert emu.faults()[0]["kind"] == "http"
        assert emu.state()["faults"] == emu.faults()


def test_the_admin_token_is_no_api_credential(emu: Emulator) -> None:
    assert files_status(emu, bearer(ADMIN), v1=True) == 401
    assert files_status(emu, {"api-key": ADMIN}) == 401


def test_admin_endpoints(emu: Emulator) -> None:
    rules = [{"kind": "http", "path": "/files", "status": 503, "times": 2}]
    assert admin(f"{emu.url}/_emulator/faults", "POST", rules)[0]["remaining"] == 2
    assert admin(f"{emu.url}/_emulator/faults")[0]["kind"] == "http"
    status, _, _ = raw_request(
        f"{emu.url}/_emulator/faults", "POST", [{"kind": "nope"}], bearer(ADMIN)
    )
    assert status == 400
    assert emu.faults()[0]["kind"] == "http"  # a rejected list leaves the old rules
    seeded = {"seed": 3, "rules": [{"kind": "http", "status": 500, "probability": 0.5}]}
    assert admin(f"{emu.url}/_emulator/faults", "POST", seeded)[0]["probability"] == 0.5
    assert admin(f"{emu.url}/_emulator/faults", "DELETE") == []
    assert emu.faults() == []
    state = admin(f"{emu.url}/_emulator/state")
    assert state == {"files": [], "deleted_files": [], "batches": [], "faults": []}
    assert admin(f"{emu.url}/_emulator/reset", "POST", {}) == {"reset": True}
    with pytest.raises(RuleError):
        emu.set_faults([{"kind": "line_failure", "status_code": 200}])
