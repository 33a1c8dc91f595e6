"""Offline checks of the deployment (infra/, azure.yaml, the hooks): no Bicep compiler.

pycep-parser (the parser checkov uses) and checkov run in their own venv, because checkov pins
many packages; create it once with
    python3 -m venv .venv-infra && .venv-infra/bin/pip install -r infra/requirements-checks.txt
or point BATCHDROP_INFRA_VENV at another one. The tests assert what checkov cannot: keys off,
the Global-Batch SKU and its capacity-derived token limit, the role set, the Event Grid filter
and dead-lettering, diagnostic settings, every alert wired to the action group, no site property
Flex Consumption rejects, and an app setting for every setting shared/config.py reads. What only
Azure can tell (quota, region offers, data actions a call checks) is in docs/deploy.md.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.integration.hookenv import REPO, SCRIPTS
from tests.integration.hookenv import infra_venv as find_infra_venv

INFRA = REPO / "infra"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from shared.config import DEFAULTS, LOCAL_ONLY  # noqa: E402

# Built-in roles the deployment may assign (docs/deploy.md, "Roles"), by definition id.
ALLOWED_ROLES = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "5e0bd9bd-7b93-4f28-af87-19fc36ad61bd": "Cognitive Services OpenAI User",
    "a001fd3d-188f-4b5d-821b-7da978bf7442": "Cognitive Services OpenAI Contributor",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}
# The files and batches calls of the app and the data actions Microsoft documents for them (see
# rbac.bicep): files create/retrieve/list/content/delete, batches create (batch-jobs/write),
# retrieve/list (batches/read, batch-jobs/read: which one a v1 GET checks is undocumented), cancel.
OPENAI_BATCH_DATA_ACTIONS = {
    f"Microsoft.CognitiveServices/accounts/OpenAI/{action}"
    for action in (
        "files/read",
        "files/write",
        "files/delete",
        "batch-jobs/read",
        "batch-jobs/write",
        "batches/read",
        "batches/delete",
        "batches/cancel/action",
    )
}
# Site properties Azure rejects on Flex Consumption with ARM error 51021 (azure-cli#31414).
FLEX_REJECTED_SITE_CONFIG = {
    "ftpsState",
    "use32BitWorkerProcess",
    "preWarmedInstanceCount",
    "netFrameworkVersion",
    "functionsRuntimeScaleMonitoringEnabled",
    "linuxFxVersion",
    "functionAppScaleLimit",
}
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
SKIP_COMMENT = re.compile(r"checkov:skip=([A-Z0-9_]+)(?::(.*))?")
# Settings azd itself gives every hook, besides the outputs of main.bicep.
AZD_SETTINGS = {"AZURE_ENV_NAME", "AZURE_SUBSCRIPTION_ID", "AZURE_LOCATION"}


@pytest.fixture(scope="module")
def infra_venv() -> Path:
    return find_infra_venv()


@pytest.fixture(scope="module")
def parsed(infra_venv: Path) -> dict[str, Any]:
    run = subprocess.run(
        [str(infra_venv / "bin" / "python"), str(INFRA / "checks" / "bicep_to_json.py"), str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def checkov(infra_venv: Path) -> dict[str, Any]:
    run = subprocess.run(
        [
            str(infra_venv / "bin" / "checkov"),
            "-d",
            str(INFRA),
            "--framework",
            "bicep",
            "--skip-download",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=REPO,
    )
    assert run.stdout.strip(), f"checkov printed nothing ({run.returncode}): {run.stderr[-2000:]}"
    report = json.loads(run.stdout)
    return report[0] if isinstance(report, list) else report


def tree(parsed: dict[str, Any], name: str) -> dict[str, Any]:
    return parsed["bicep"][name]


def body(resource: dict[str, Any]) -> dict[str, Any]:
    """The declaration of a resource or module, under any loop or condition."""
    config = resource["config"]
    while isinstance(config.get("config"), dict):
        config = config["config"]
    return config


def resources(parsed: dict[str, Any], name: str, rtype: str) -> dict[str, dict[str, Any]]:
    items = tree(parsed, name)["resources"].items()
    return {key: r for key, r in items if r["type"] == rtype and not r["existing"]}


def one(parsed: dict[str, Any], name: str, rtype: str) -> dict[str, Any]:
    found = resources(parsed, name, rtype)
    assert len(found) == 1, f"{name}: expected one {rtype}, found {sorted(found)}"
    return body(next(iter(found.values())))


def param(parsed: dict[str, Any], name: str, param_name: str) -> dict[str, Any]:
    return tree(parsed, name)["parameters"][param_name]


def allowed_values(parameter: dict[str, Any]) -> list[Any]:
    for decorator in parameter["decorators"]:
        if decorator["type"] == "allowed":
            return list(decorator["argument"])
    return []


def ref(expr: Any) -> Any:
    """`a.b.c` for a pycep property access, anything else unchanged."""
    if isinstance(expr, dict) and expr.get("operator", {}).get("type") == "property_accessor":
        operands = expr["operator"]["operands"]
        return f"{ref(operands['operand_1'])}.{ref(operands['operand_2'])}"
    return expr


def app_settings(parsed: dict[str, Any]) -> dict[str, Any]:
    site = one(parsed, "app/function.bicep", "Microsoft.Web/sites")
    settings = site["properties"]["siteConfig"]["appSettings"]
    names = [s["name"] for s in settings]
    assert len(names) == len(set(names)), "an app setting is defined twice"
    return {s["name"]: s["value"] for s in settings}


@cache
def bicep_texts() -> dict[str, str]:
    return {p.relative_to(INFRA).as_posix(): p.read_text() for p in INFRA.rglob("*.bicep")}


def code_of(text: str) -> str:
    """Bicep text without its // comments (skip comments and explanations mention names)."""
    return "\n".join(line.split("//")[0] for line in text.splitlines())


@cache
def role_map() -> dict[str, str]:
    """The `roles` map of rbac.bicep: name -> built-in role definition id."""
    text = bicep_texts()["app/rbac.bicep"]
    start = text.index("var roles = {")
    return dict(re.findall(r"(\w+): '([0-9a-f-]{36})'", text[start : text.index("}", start)]))


# --- the checks CI cannot skip ----------------------------------------------------------------


def test_every_bicep_file_parses(parsed: dict[str, Any]) -> None:
    assert parsed["errors"] == {}
    assert {"main.bicep", "app/function.bicep", "app/rbac.bicep"} <= set(parsed["bicep"])


def test_checkov_parses_everything_and_fails_nothing(checkov: dict[str, Any]) -> None:
    summary = checkov["summary"]
    assert summary["parsing_errors"] == 0, "checkov skipped a file it could not parse"
    failed = [
        f"{c['check_id']} {c['check_name']} ({c['file_path']} {c['resource']})"
        for c in checkov["results"]["failed_checks"]
    ]
    assert failed == []
    assert summary["passed"] > 0 and summary["resource_count"] > 0


def test_every_checkov_skip_is_justified(checkov: dict[str, Any]) -> None:
    for name, text in bicep_texts().items():
        for match in SKIP_COMMENT.finditer(text):
            reason = (match.group(2) or "").strip()
            assert len(reason) >= 40, f"{name}: skip of {match.group(1)} needs a reason"
    for check in checkov["results"]["skipped_checks"]:
        comment = (check.get("check_result") or {}).get("suppress_comment", "")
        assert comment and comment != "No comment provided", check["check_id"]


# --- storage ----------------------------------------------------------------------------------


def test_storage_account_is_keyless_and_private(parsed: dict[str, Any]) -> None:
    props = one(parsed, "app/storage.bicep", "Microsoft.Storage/storageAccounts")["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["allowBlobPublicAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True
    assert props["defaultToOAuthAuthentication"] is True


def test_storage_names_come_from_the_code_defaults(parsed: dict[str, Any]) -> None:
    names = {
        "inputContainerName": "BATCH_INPUT_CONTAINER",
        "outputContainerName": "BATCH_OUTPUT_CONTAINER",
        "workContainerName": "BATCH_WORK_CONTAINER",
        "jobsTableName": "BATCH_JOBS_TABLE",
        "completionQueueName": "BATCH_COMPLETION_QUEUE",
    }
    storage_module = body(tree(parsed, "main.bicep")["modules"]["storage"])["params"]
    for param_name, setting in names.items():
        assert param(parsed, "main.bicep", param_name)["default"] == DEFAULTS[setting]
        assert storage_module[param_name] == param_name


def test_storage_creates_the_containers_queues_and_table(parsed: dict[str, Any]) -> None:
    def names(rtype: str) -> set[str]:
        found = resources(parsed, "app/storage.bicep", rtype).values()
        return {body(r)["name"] for r in found}

    containers = names("Microsoft.Storage/storageAccounts/blobServices/containers")
    assert containers == {
        "inputContainerName",
        "outputContainerName",
        "workContainerName",
        "deploymentContainerName",
        "deadLetterContainerName",
    }
    queues = names("Microsoft.Storage/storageAccounts/queueServices/queues")
    assert queues == {"completionQueueName", "poisonQueueName", "completionPoisonQueueName"}
    variables = tree(parsed, "app/storage.bicep")["variables"]
    assert variables["poisonQueueName"]["value"] == "webjobs-blobtrigger-poison"
    # The Functions host names a queue trigger's poison queue <queue>-poison.
    assert variables["completionPoisonQueueName"]["value"] == "${completionQueueName}-poison"
    assert names("Microsoft.Storage/storageAccounts/tableServices/tables") == {"jobsTableName"}
    for container in resources(
        parsed, "app/storage.bicep", "Microsoft.Storage/storageAccounts/blobServices/containers"
    ).values():
        assert body(container)["properties"]["publicAccess"] == "None"


def test_a_lifecycle_rule_ages_out_old_outputs(parsed: dict[str, Any]) -> None:
    policy_type = "Microsoft.Storage/storageAccounts/managementPolicies"
    policy = one(parsed, "app/storage.bicep", policy_type)
    assert policy["properties"]["policy"]["rules"] == "lifecycleRules"
    rule = tree(parsed, "app/storage.bicep")["variables"]["outputRule"]["value"]
    deletion = rule["definition"]["actions"]["baseBlob"]["delete"]
    assert deletion["daysAfterModificationGreaterThan"] == "outputRetentionDays"
    assert rule["definition"]["filters"]["prefixMatch"] == ["${outputContainerName}/"]
    main_default = param(parsed, "main.bicep", "outputRetentionDays")["default"]
    assert isinstance(main_default, int) and main_default > 0
    storage_module = body(tree(parsed, "main.bicep")["modules"]["storage"])["params"]
    assert storage_module["outputRetentionDays"] == "outputRetentionDays"


# --- local auth, Azure OpenAI, monitoring ------------------------------------------------------


def test_azure_openai_is_entra_only_with_custom_subdomain(parsed: dict[str, Any]) -> None:
    account = one(parsed, "app/openai.bicep", "Microsoft.CognitiveServices/accounts")
    assert account["kind"] == "OpenAI"
    assert account["identity"]["type"] == "SystemAssigned"
    props = account["properties"]
    assert props["disableLocalAuth"] is True
    assert props["customSubDomainName"] == "name"
    assert props["publicNetworkAccess"] == "publicNetworkAccess"
    assert set(allowed_values(param(parsed, "app/openai.bicep", "publicNetworkAccess"))) == {
        "Enabled",
        "Disabled",
    }


def test_monitoring_has_local_auth_off(parsed: dict[str, Any]) -> None:
    insights = one(parsed, "app/monitoring.bicep", "Microsoft.Insights/components")
    assert insights["properties"]["DisableLocalAuth"] is True
    workspace = one(parsed, "app/monitoring.bicep", "Microsoft.OperationalInsights/workspaces")
    assert workspace["properties"]["features"]["disableLocalAuth"] is True


def test_model_deployment_is_global_batch(parsed: dict[str, Any]) -> None:
    deployment = one(parsed, "app/openai.bicep", "Microsoft.CognitiveServices/accounts/deployments")
    assert deployment["sku"] == {"name": "deploymentSku", "capacity": "capacity"}
    model = deployment["properties"]["model"]
    assert model == {"format": "OpenAI", "name": "modelName", "version": "modelVersion"}
    # Read-only in every API version that has it: the postprovision hook sets it instead.
    assert "dynamicThrottlingEnabled" not in deployment["properties"]
    for name, text in bicep_texts().items():
        assert not re.search(r"^\s*dynamicThrottlingEnabled\s*:", code_of(text), re.M), name
    sku_params = {"app/openai.bicep": "deploymentSku", "main.bicep": "openAiDeploymentSku"}
    for name, sku_param in sku_params.items():
        sku = param(parsed, name, sku_param)
        assert sku["default"] == "GlobalBatch"
        assert set(allowed_values(sku)) == {"GlobalBatch", "DataZoneBatch"}
    openai_module = body(tree(parsed, "main.bicep")["modules"]["openAi"])["params"]
    for module_param, main_param in {
        "deploymentSku": "openAiDeploymentSku",
        "modelName": "openAiModelName",
        "modelVersion": "openAiModelVersion",
        "capacity": "openAiDeploymentCapacity",
    }.items():
        assert openai_module[module_param] == main_param
    assert "dynamicQuota" not in openai_module


# --- roles ------------------------------------------------------------------------------------


def test_every_role_definition_id_is_in_the_allowed_set() -> None:
    for name, text in bicep_texts().items():
        for guid in GUID.findall(text):
            assert guid.lower() in ALLOWED_ROLES, f"{name}: role or id {guid} is not allowed"
    roles = role_map()
    assert set(roles.values()) <= set(ALLOWED_ROLES)


def test_role_assignments_are_scoped_to_one_resource(parsed: dict[str, Any]) -> None:
    rbac = tree(parsed, "app/rbac.bicep")
    assignments = resources(parsed, "app/rbac.bicep", "Microsoft.Authorization/roleAssignments")
    assert len(assignments) == 4
    existing = {k for k, r in rbac["resources"].items() if r["existing"]}
    for resource in assignments.values():
        assert resource["config"].get("loop_type"), "role assignments come from a loop"
        assignment = body(resource)
        assert assignment["scope"] in existing
        role_id = assignment["properties"]["roleDefinitionId"]["function"]
        assert role_id["type"] == "subscription_resource_id"
    for name, text in bicep_texts().items():
        if name != "app/rbac.bicep":
            assert "Microsoft.Authorization/role" not in text, f"{name}: roles belong in rbac.bicep"


def test_the_app_gets_the_data_roles_it_needs(parsed: dict[str, Any]) -> None:
    roles = role_map()
    variables = tree(parsed, "app/rbac.bicep")["variables"]

    def granted(var: str, principal: str) -> set[str]:
        return {ref(a["roleId"]) for a in variables[var]["value"] if a["principalId"] == principal}

    assert granted("appStorageAssignments", "appPrincipalId") == {
        "roles.storageBlobDataContributor",
        "roles.storageQueueDataContributor",
        "roles.storageTableDataContributor",
    }
    blob_contributor = {"roles.storageBlobDataContributor"}
    # Event Grid dead-letters with its topic's identity: blob access on that one container only.
    assert granted("deadLetterAssignments", "eventGridPrincipalId") == blob_contributor
    dead_letter = body(rbac_resource(parsed, "deadLetterRoleAssignments"))
    assert dead_letter["scope"] == "deadLetterContainer"
    container = tree(parsed, "app/rbac.bicep")["resources"]["deadLetterContainer"]
    assert container["existing"] and container["config"]["name"] == "deadLetterContainerName"
    assert granted("appOpenAiAssignments", "appPrincipalId") == {"openAiRole"}
    metrics_publisher = {"roles.monitoringMetricsPublisher"}
    assert granted("monitoringAssignments", "appPrincipalId") == metrics_publisher
    assert roles["cognitiveServicesOpenAIContributor"] == "a001fd3d-188f-4b5d-821b-7da978bf7442"
    fallback = variables["openAiRole"]["value"]["operator"]["operands"]
    assert fallback["condition"] == "useCustomOpenAiRole"
    assert fallback["true_value"] == "openAiBatchRoleName"


def rbac_resource(parsed: dict[str, Any], name: str) -> dict[str, Any]:
    return tree(parsed, "app/rbac.bicep")["resources"][name]


def test_the_azure_openai_identity_holds_no_role(parsed: dict[str, Any]) -> None:
    """Nothing makes the service read or write the storage account (no input_blob mode), so its
    identity must not reach the function keys' container or the deployment package."""
    rbac_params = body(tree(parsed, "main.bicep")["modules"]["rbac"])["params"]
    assert not [p for p in rbac_params if "openai" in p.lower() and "principal" in p.lower()]
    variables = tree(parsed, "app/rbac.bicep")["variables"]
    principals = {
        a["principalId"]
        for var in ("appStorageAssignments", "deadLetterAssignments", "monitoringAssignments")
        for a in variables[var]["value"]
    }
    assert principals == {"appPrincipalId", "eventGridPrincipalId"}
    assert "principalId" not in tree(parsed, "app/openai.bicep")["outputs"]


def test_deployer_data_roles_are_off_unless_asked_for(parsed: dict[str, Any]) -> None:
    grant = param(parsed, "main.bicep", "grantDeployerDataRoles")
    assert grant["type"] == "bool" and grant["default"] is False
    deployer = tree(parsed, "main.bicep")["variables"]["deployerPrincipalId"]["value"]
    operands = deployer["operator"]["operands"]
    assert operands == {
        "condition": "grantDeployerDataRoles",
        "true_value": "principalId",
        "false_value": "",
    }
    rbac_params = body(tree(parsed, "main.bicep")["modules"]["rbac"])["params"]
    assert rbac_params["userPrincipalId"] == "deployerPrincipalId"
    values = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert values["grantDeployerDataRoles"]["value"] == "${BATCHDROP_DEPLOYER_DATA_ROLES=false}"


def test_custom_openai_role_holds_only_the_batch_data_actions(parsed: dict[str, Any]) -> None:
    role = one(parsed, "app/rbac.bicep", "Microsoft.Authorization/roleDefinitions")
    props = role["properties"]
    assert props["type"] == "CustomRole"
    [permissions] = props["permissions"]
    assert set(permissions["dataActions"]) == OPENAI_BATCH_DATA_ACTIONS
    assert permissions["actions"] == [] and permissions["notActions"] == []
    assert permissions["notDataActions"] == []
    [scope] = props["assignableScopes"]
    assert scope["function"]["type"] == "resource_group"
    assert scope["function"]["property_name"] == "id"
    assert "uniqueString" in props["roleName"], "role names must be unique in the tenant"


# --- the function app -------------------------------------------------------------------------


def test_app_settings_cover_every_setting_the_code_reads(parsed: dict[str, Any]) -> None:
    settings = app_settings(parsed)
    missing = set(DEFAULTS) - set(LOCAL_ONLY) - set(settings)
    assert not missing, f"the code reads these but the function app lacks them: {sorted(missing)}"
    assert not set(LOCAL_ONLY) & set(settings), "local-only settings (keys) must stay out of Azure"


def test_app_setting_defaults_match_the_code(parsed: dict[str, Any]) -> None:
    function_params = tree(parsed, "app/function.bicep")["parameters"]
    main_params = tree(parsed, "main.bicep")["parameters"]
    passed = body(tree(parsed, "main.bicep")["modules"]["functionApp"])["params"]
    for setting, value in app_settings(parsed).items():
        if DEFAULTS.get(setting) is None or value not in function_params:
            continue
        defaults = [function_params[value]["default"]]
        if isinstance(passed.get(value), str) and passed[value] in main_params:
            defaults.append(main_params[passed[value]]["default"])
        for default in defaults:
            if default is not None:
                assert str(default) == DEFAULTS[setting], f"{setting}: infra default {default!r}"


def test_host_storage_and_telemetry_use_the_identity(parsed: dict[str, Any]) -> None:
    settings = app_settings(parsed)
    assert "AzureWebJobsStorage" not in settings, "a connection string would need a key"
    for service in ("blob", "queue", "table"):
        assert settings[f"AzureWebJobsStorage__{service}ServiceUri"] == f"{service}Endpoint"
    assert settings["AzureWebJobsStorage__accountName"] == "storageAccountName"
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert settings["AZURE_CLIENT_ID"] == "identityClientId"
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == (
        "ClientId=${identityClientId};Authorization=AAD"
    )
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in settings
    forbidden = re.compile(r"(?i)(api_?key|accountkey|password|secret|sas_?token)")
    assert not [name for name in settings if forbidden.search(name)]


def test_function_app_is_python_on_flex_consumption(parsed: dict[str, Any]) -> None:
    plan = one(parsed, "app/function.bicep", "Microsoft.Web/serverfarms")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    site = one(parsed, "app/function.bicep", "Microsoft.Web/sites")
    assert site["kind"] == "functionapp,linux"
    assert site["identity"]["type"] == "UserAssigned"
    props = site["properties"]
    assert props["httpsOnly"] is True
    config = props["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "pythonVersion"}
    assert config["scaleAndConcurrency"]["instanceMemoryMB"] == "instanceMemoryMB"
    storage = config["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["authentication"]["type"] == "UserAssignedIdentity"
    for name in ("app/function.bicep", "main.bicep"):
        python = param(parsed, name, "pythonVersion")
        # Flex Consumption's runtime name/version pair (Get-AzFunctionAppFlexConsumptionRuntime
        # lists "python 3.13" for FC1); the app is built for 3.13.
        assert python["default"] == "3.13" and allowed_values(python) == ["3.13"]
    passed = body(tree(parsed, "main.bicep")["modules"]["functionApp"])["params"]
    assert passed["pythonVersion"] == "pythonVersion"
    memory = param(parsed, "main.bicep", "instanceMemoryMB")
    assert set(allowed_values(memory)) == {512, 2048, 4096}
    policies = resources(
        parsed, "app/function.bicep", "Microsoft.Web/sites/basicPublishingCredentialsPolicies"
    ).values()
    assert {body(p)["name"]: body(p)["properties"]["allow"] for p in policies} == {
        "ftp": False,
        "scm": False,
    }


def test_no_site_property_that_flex_consumption_rejects(parsed: dict[str, Any]) -> None:
    site = one(parsed, "app/function.bicep", "Microsoft.Web/sites")
    site_config = site["properties"]["siteConfig"]
    assert not FLEX_REJECTED_SITE_CONFIG & set(site_config), "ARM error 51021 on Flex Consumption"
    assert site_config.get("alwaysOn") is not True
    assert "ftpsState" not in code_of(bicep_texts()["app/function.bicep"])
    # FTP stays off through the publishing-credentials policy instead (checked above), and the
    # checkov check that wants ftpsState is skipped with that reason.
    assert "checkov:skip=CKV_AZURE_78:" in bicep_texts()["app/function.bicep"]


def evaluate(expr: Any, names: dict[str, int]) -> int:
    """The value of a pycep arithmetic expression (Bicep integers: / truncates)."""
    if isinstance(expr, int):
        return expr
    if isinstance(expr, str):
        return names[expr]
    operator = expr["operator"]
    left = evaluate(operator["operands"]["operand_1"], names)
    right = evaluate(operator["operands"]["operand_2"], names)
    return {"multiply": left * right, "divide": left // right}[operator["type"]]


def test_batch_max_tokens_stays_under_the_deployments_enqueued_token_limit(
    parsed: dict[str, Any],
) -> None:
    main = tree(parsed, "main.bicep")
    variables = main["variables"]
    capacity = param(parsed, "main.bicep", "openAiDeploymentCapacity")["default"]
    names = {
        "openAiDeploymentCapacity": capacity,
        "enqueuedTokensPerCapacityUnit": variables["enqueuedTokensPerCapacityUnit"]["value"],
        "batchTokenSharePercent": variables["batchTokenSharePercent"]["value"],
    }
    # One unit of a GlobalBatch/DataZoneBatch deployment is 1,000 enqueued tokens.
    assert names["enqueuedTokensPerCapacityUnit"] == 1000
    max_tokens = evaluate(variables["batchMaxTokens"]["value"], names)
    limit = capacity * 1000
    assert 0.5 * limit <= max_tokens < limit, "split below the limit, but not needlessly small"
    assert capacity == 10000 and max_tokens == 9_000_000
    for capacity in (1, 90, 50_000):
        assert (
            0
            < evaluate(
                variables["batchMaxTokens"]["value"],
                {**names, "openAiDeploymentCapacity": capacity},
            )
            < capacity * 1000
        )
    passed = body(main["modules"]["functionApp"])["params"]
    assert passed["maxTokens"] == {
        "function": {"type": "string", "parameters": {"value_to_convert": "batchMaxTokens"}}
    }
    assert app_settings(parsed)["BATCH_MAX_TOKENS"] == "maxTokens"


def test_zone_redundancy_is_one_parameter_for_plan_and_storage(parsed: dict[str, Any]) -> None:
    zone = param(parsed, "main.bicep", "zoneRedundant")
    assert zone["type"] == "bool" and zone["default"] is False
    main_modules = tree(parsed, "main.bicep")["modules"]
    assert body(main_modules["functionApp"])["params"]["zoneRedundant"] == "zoneRedundant"
    plan = one(parsed, "app/function.bicep", "Microsoft.Web/serverfarms")
    assert plan["properties"]["zoneRedundant"] == "zoneRedundant"
    sku = body(main_modules["storage"])["params"]["skuName"]["operator"]["operands"]
    assert sku == {
        "condition": "zoneRedundant",
        "true_value": "Standard_ZRS",
        "false_value": "Standard_LRS",
    }
    assert "Standard_ZRS" in allowed_values(param(parsed, "app/storage.bicep", "skuName"))


# --- diagnostic settings and alerts ---------------------------------------------------------------

DIAGNOSTICS = "Microsoft.Insights/diagnosticSettings"
# Log categories per resource (Microsoft Learn, "Supported logs for <resource type>").
EXPECTED_DIAGNOSTICS = {
    ("app/storage.bicep", "blobService"): {"StorageRead", "StorageWrite", "StorageDelete"},
    ("app/storage.bicep", "queueService"): {"StorageRead", "StorageWrite", "StorageDelete"},
    ("app/storage.bicep", "tableService"): {"StorageRead", "StorageWrite", "StorageDelete"},
    ("app/openai.bicep", "account"): {
        "Audit",
        "RequestResponse",
        "Trace",
        "AzureOpenAIRequestUsage",
    },
    ("app/eventgrid.bicep", "systemTopic"): {"DeliveryFailures"},
}


def categories(value: Any, variables: dict[str, Any]) -> set[str]:
    entries = variables[value]["value"] if isinstance(value, str) else value
    assert all(entry["enabled"] is True for entry in entries)
    return {entry["category"] for entry in entries}


def test_logs_and_metrics_go_to_the_workspace(parsed: dict[str, Any]) -> None:
    found = {}
    for name in ("app/storage.bicep", "app/openai.bicep", "app/eventgrid.bicep"):
        variables = tree(parsed, name).get("variables", {})
        for setting in resources(parsed, name, DIAGNOSTICS).values():
            config = body(setting)
            props = config["properties"]
            assert props["workspaceId"] == "logAnalyticsWorkspaceId"
            assert categories(props["metrics"], variables) in ({"AllMetrics"}, {"Transaction"})
            found[(name, config["scope"])] = categories(props["logs"], variables)
    assert found == EXPECTED_DIAGNOSTICS
    modules = tree(parsed, "main.bicep")["modules"]
    for module in ("storage", "openAi", "eventGrid"):
        workspace = body(modules[module])["params"]["logAnalyticsWorkspaceId"]
        assert ref(workspace) == "monitoring.outputs.logAnalyticsId"


ALERT_TYPES = ("Microsoft.Insights/scheduledQueryRules", "Microsoft.Insights/metricAlerts")


def test_every_alert_rule_goes_to_the_action_group(parsed: dict[str, Any]) -> None:
    rules = {
        (name, key): body(rule)
        for name in parsed["bicep"]
        for rtype in ALERT_TYPES
        for key, rule in resources(parsed, name, rtype).items()
    }
    assert {key for _, key in rules} >= {
        "stuckJobsAlert",
        "poisonMessagesAlert",
        "undeliveredEventsAlert",
    }
    alerts = tree(parsed, "app/alerts.bicep")
    assert {name for name, _ in rules} == {"app/alerts.bicep"}, "rules live in alerts.bicep"
    actions = alerts["variables"]["logAlertActions"]["value"]
    assert [ref(a) for a in actions["actionGroups"]] == ["actionGroup.id"]
    for (_, key), rule in rules.items():
        assert rule["properties"]["actions"] == "logAlertActions", f"{key} has no action group"
        assert rule["properties"]["enabled"] is True
    group = one(parsed, "app/alerts.bicep", "Microsoft.Insights/actionGroups")
    assert group["properties"]["emailReceivers"] == "emailReceivers"
    receivers = alerts["variables"]["emailReceivers"]["value"]["operator"]["operands"]
    assert (
        receivers["true_value"] == []
        and receivers["false_value"][0]["emailAddress"] == "alertEmail"
    )
    assert param(parsed, "main.bicep", "alertEmail")["default"] == ""
    assert (
        body(tree(parsed, "main.bicep")["modules"]["alerts"])["params"]["alertEmail"]
        == "alertEmail"
    )


def test_poison_and_dead_letter_alerts_watch_the_right_things(parsed: dict[str, Any]) -> None:
    variables = tree(parsed, "app/alerts.bicep")["variables"]
    poison = variables["poisonQuery"]["value"]
    assert poison.startswith("StorageQueueLogs")
    assert '"PutMessage"' in poison
    assert "/${blobTriggerPoisonQueueName}/messages" in poison
    assert "/${completionPoisonQueueName}/messages" in poison
    undelivered = variables["undeliveredQuery"]["value"]
    assert undelivered.startswith("AzureMetrics") and "${systemTopicId}" in undelivered
    assert '"DeadLetteredCount"' in undelivered and '"DroppedEventCount"' in undelivered
    alerts = body(tree(parsed, "main.bicep")["modules"]["alerts"])["params"]
    assert ref(alerts["blobTriggerPoisonQueueName"]) == "storage.outputs.blobTriggerPoisonQueueName"
    assert ref(alerts["completionPoisonQueueName"]) == "storage.outputs.completionPoisonQueueName"
    assert ref(alerts["systemTopicId"]) == "eventGrid.outputs.id"
    rules = resources(parsed, "app/alerts.bicep", "Microsoft.Insights/scheduledQueryRules")
    queries = {
        key: body(r)["properties"]["criteria"]["allOf"][0]["query"] for key, r in rules.items()
    }
    assert queries["poisonMessagesAlert"] == "poisonQuery"
    assert queries["undeliveredEventsAlert"] == "undeliveredQuery"
    scopes = {key: body(r)["properties"]["scopes"] for key, r in rules.items()}
    assert scopes["poisonMessagesAlert"] == ["logAnalyticsWorkspaceId"]
    assert scopes["undeliveredEventsAlert"] == ["logAnalyticsWorkspaceId"]


# --- no keys anywhere, names, outputs ------------------------------------------------------------


def test_nothing_lists_keys_or_outputs_a_secret(parsed: dict[str, Any]) -> None:
    for name, text in bicep_texts().items():
        code = "\n".join(line.split("//")[0] for line in text.splitlines())
        assert not re.search(r"(?i)list\w*keys|listConnectionStrings|listAccountSas", code), name
        assert "@secure" not in code, f"{name}: a secure parameter means a secret is passed around"
    secret = re.compile(r"(?i)(key|secret|password|connection_?string|sas|token)")
    for name, bicep in parsed["bicep"].items():
        for output in bicep.get("outputs", {}):
            assert not secret.search(output), f"{name}: output {output} looks like a secret"
            assert "connectionstring" not in json.dumps(bicep["outputs"][output]).lower(), output


def test_outputs_are_upper_snake_and_feed_the_hooks(parsed: dict[str, Any]) -> None:
    outputs = set(tree(parsed, "main.bicep")["outputs"])
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", o) for o in outputs), sorted(outputs)
    # The post-provision hooks read only what azd and main.bicep give them (and their own
    # switches); the preprovision hook runs before any output exists.
    switches = {"AZURE_OPENAI_DYNAMIC_QUOTA"}
    for hook in ("postprovision", "postdeploy"):
        for script in (f"{hook}.sh", f"{hook}.ps1"):
            text = (SCRIPTS / script).read_text()
            used = set(re.findall(r"\b((?:AZURE|BATCH)_[A-Z0-9_]+)\b", text))
            unset = used - outputs - AZD_SETTINGS - switches
            assert used and not unset, f"{script} reads unset {sorted(unset)}"


def test_resource_names_are_abbreviation_plus_token(parsed: dict[str, Any]) -> None:
    main = bicep_texts()["main.bicep"]
    abbreviations = json.loads((INFRA / "abbreviations.json").read_text())
    used = re.findall(r"'\$\{abbrs\.(\w+)\}\$\{resourceToken\}'", main)
    assert set(used) == set(abbreviations) - {"resourcesResourceGroups"}
    assert "uniqueString(subscription().id, environmentName, location)" in main
    for module in tree(parsed, "main.bicep")["modules"].values():
        assert body(module)["scope"] == "rg"


def test_parameters_file_matches_main_bicep(parsed: dict[str, Any]) -> None:
    declared = tree(parsed, "main.bicep")["parameters"]
    values = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(values) <= set(declared)
    required = {name for name, p in declared.items() if p["default"] is None}
    assert required <= set(values), f"azd would prompt for {sorted(required - set(values))}"
    for name, entry in values.items():
        match = re.fullmatch(r"\$\{\w+=(.*)\}", entry["value"])
        if match:
            default = declared[name]["default"]
            expected = str(default).lower() if isinstance(default, bool) else str(default)
            assert match.group(1) == expected, f"{name}: main.parameters.json and main.bicep differ"


# --- Event Grid and azd -------------------------------------------------------------------------


def test_system_topic_is_on_the_storage_account(parsed: dict[str, Any]) -> None:
    topic = one(parsed, "app/eventgrid.bicep", "Microsoft.EventGrid/systemTopics")
    assert topic["properties"] == {
        "source": "storageAccountId",
        "topicType": "Microsoft.Storage.StorageAccounts",
    }
    event_grid = body(tree(parsed, "main.bicep")["modules"]["eventGrid"])["params"]
    assert ref(event_grid["storageAccountId"]) == "storage.outputs.id"


def test_event_grid_subscription_filters_blob_created_in_the_input_container() -> None:
    template = json.loads((INFRA / "hooks" / "blob-subscription.json").read_text())
    [subscription] = template["resources"]
    assert subscription["type"] == "Microsoft.EventGrid/systemTopics/eventSubscriptions"
    props = subscription["properties"]
    assert props["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
    assert props["filter"]["subjectBeginsWith"] == (
        "[format('/blobServices/default/containers/{0}/', parameters('inputContainerName'))]"
    )
    url = props["destination"]["properties"]["endpointUrl"]
    assert "/runtime/webhooks/blobs?functionName=Host.Functions.{1}&code={2}" in url
    function_name = template["variables"]["functionName"]
    assert function_name == "submit_prompt_file"
    # The webhook names the function, so renaming it in function_app.py breaks delivery.
    app_code = (REPO / "function_app.py").read_text()
    assert f'@app.function_name("{function_name}")' in app_code
    assert "source=func.BlobSource.EVENT_GRID" in app_code
    assert props["destination"]["endpointType"] == "WebHook"
    assert template["parameters"]["blobsExtensionKey"]["type"] == "securestring"


def test_undeliverable_blob_events_are_dead_lettered_with_the_topics_identity(
    parsed: dict[str, Any],
) -> None:
    template = json.loads((INFRA / "hooks" / "blob-subscription.json").read_text())
    [subscription] = template["resources"]
    props = subscription["properties"]
    assert props["retryPolicy"] == {"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1440}
    # Shared keys are off on the account, so Event Grid must write with a managed identity.
    assert "deadLetterDestination" not in props
    dead_letter = props["deadLetterWithResourceIdentity"]
    assert dead_letter["identity"] == {"type": "SystemAssigned"}
    destination = dead_letter["deadLetterDestination"]
    assert destination["endpointType"] == "StorageBlob"
    account = "[resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName'))]"
    assert destination["properties"] == {
        "resourceId": account,
        "blobContainerName": "[parameters('deadLetterContainerName')]",
    }
    for name in ("storageAccountName", "deadLetterContainerName"):
        assert template["parameters"][name]["type"] == "string"
    topic = one(parsed, "app/eventgrid.bicep", "Microsoft.EventGrid/systemTopics")
    assert topic["identity"] == {"type": "SystemAssigned"}
    outputs = tree(parsed, "main.bicep")["outputs"]
    assert ref(outputs["AZURE_EVENTGRID_DEADLETTER_CONTAINER"]["value"]) == (
        "storage.outputs.deadLetterContainerName"
    )
    assert (
        param(parsed, "main.bicep", "deadLetterContainerName")["default"] == "eventgrid-deadletter"
    )
    for script in ("postdeploy.sh", "postdeploy.ps1"):
        text = (SCRIPTS / script).read_text()
        assert "deadLetterContainerName=" in text and "storageAccountName=" in text, script


def test_azure_yaml_deploys_one_function_and_runs_the_hook(parsed: dict[str, Any]) -> None:
    azure = parsed["azure_yaml"]
    [(service_name, service)] = azure["services"].items()
    assert service == {"project": ".", "language": "python", "host": "function"}
    assert tree(parsed, "main.bicep")["variables"]["serviceName"]["value"] == service_name
    assert set(azure["hooks"]) == {"preprovision", "postprovision", "postdeploy"}
    for name, hook in azure["hooks"].items():
        for platform, shell, script in (("posix", "sh", "sh"), ("windows", "pwsh", "ps1")):
            assert hook[platform] == {
                "shell": shell,
                "run": f"./scripts/{name}.{script}",
                "interactive": False,
                "continueOnError": False,
            }
            assert (SCRIPTS / f"{name}.{script}").is_file()
        assert os.access(SCRIPTS / f"{name}.sh", os.X_OK), f"chmod +x scripts/{name}.sh"


def shell_settings(text: str) -> set[str]:
    return set(re.findall(r"\b((?:AZURE|BATCH|BATCHDROP)_[A-Z0-9_]+)\b", text))


@pytest.mark.parametrize("hook", ["preprovision", "postprovision", "postdeploy"])
def test_powershell_twins_read_the_same_settings_and_ask_azure_the_same(hook: str) -> None:
    """pwsh cannot be installed where the tests run, so the .ps1 twins are kept in step by review;
    this catches the drift a review misses: a setting or an Azure call only one of them has."""
    sh = (SCRIPTS / f"{hook}.sh").read_text()
    ps1 = (SCRIPTS / f"{hook}.ps1").read_text()
    assert shell_settings(sh) == shell_settings(ps1)
    calls = re.compile(
        r"\b(cognitiveservices [a-z -]+? (?:list|show)|functionapp [a-z-]+(?: list)?|"
        r"deployment group create|rest --method \w+|account show)\b"
    )
    assert set(calls.findall(sh)) == set(calls.findall(ps1)), hook
    assert calls.findall(sh), hook


def test_hooks_deploy_the_subscription_template_without_echoing_the_key() -> None:
    for script in ("postdeploy.sh", "postdeploy.ps1"):
        text = (SCRIPTS / script).read_text()
        assert "blob-subscription.json" in text
        assert "systemKeys.blobs_extension" in text
        assert not re.search(r"(?i)(echo|write-host|write-output)[^\n]*\$\{?key", text), script
        assert re.search(r"blobsExtensionKey", text), script


def test_the_alert_rule_searches_for_the_word_the_app_logs():
    from shared.jobs.model import ALERT

    bicep = (INFRA / "app" / "alerts.bicep").read_text()
    assert "Microsoft.Insights/scheduledQueryRules" in bicep
    assert f'message has "{ALERT}"' in bicep
