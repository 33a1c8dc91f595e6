"""Where `batchdrop` finds storage: flags before the environment, the CLI's own variables
before the app's AzureWebJobsStorage, the account's URL signed in with Entra ID (no key)."""

from __future__ import annotations

import pytest
from azure.identity import DefaultAzureCredential

from batchdrop_cli.__main__ import parser
from batchdrop_cli.connect import ConnectError, Connection

AZURITE = "UseDevelopmentStorage=true"
URL = "https://acct.blob.core.windows.net"


def connect(*flags: str, **env: str) -> Connection:
    return Connection.from_args(parser().parse_args([*flags, "jobs"]), env)


def test_the_app_setting_is_the_last_fallback():
    assert connect(AzureWebJobsStorage=AZURITE).storage.connection_string == AZURITE
    conn = connect(AzureWebJobsStorage=AZURITE, BATCHDROP_ACCOUNT_URL=URL + "/")
    assert conn.storage.connection_string is None
    assert dict(conn.storage.service_uris) == {
        "blob": URL,
        "table": "https://acct.table.core.windows.net",
    }
    both = connect(BATCHDROP_CONNECTION_STRING=AZURITE, BATCHDROP_ACCOUNT_URL=URL)
    assert both.storage.connection_string == AZURITE


def test_flags_win_and_an_account_name_is_enough():
    conn = connect("--account", "other", BATCHDROP_CONNECTION_STRING=AZURITE)
    assert conn.storage.service_uris["table"] == "https://other.table.core.windows.net"
    conn = connect("--connection-string", AZURITE, BATCHDROP_ACCOUNT_URL=URL)
    assert conn.storage.connection_string == AZURITE
    sovereign = "https://acct.table.core.chinacloudapi.cn"
    conn = connect("--account-url", "https://acct.blob.core.chinacloudapi.cn")
    assert conn.storage.service_uris["table"] == sovereign
    conn = connect("--account-url", "http://127.0.0.1:1/acct", BATCHDROP_TABLE_URL="http://t/")
    assert conn.storage.service_uris["table"] == "http://t"


def test_names_come_from_flags_then_the_apps_settings_then_its_defaults():
    conn = connect("--table", "tbl", AzureWebJobsStorage=AZURITE, BATCH_INPUT_CONTAINER="in")
    assert (conn.input_container, conn.output_container, conn.table) == (
        "in",
        "batch-output",
        "tbl",
    )


def test_no_storage_or_an_unknown_endpoint_says_what_to_pass():
    with pytest.raises(ConnectError, match="--account-url"):
        connect()
    with pytest.raises(ConnectError, match="--table-url"):
        connect("--account-url", "https://example.invalid/x")


def test_in_azure_the_clients_sign_in_with_entra_id_never_a_key():
    conn = connect(BATCHDROP_ACCOUNT_URL=URL)
    assert conn.blobs.url.startswith(URL)
    assert isinstance(conn.blobs.credential, DefaultAzureCredential)
    assert conn.store.table.url.startswith("https://acct.table.core.windows.net")
