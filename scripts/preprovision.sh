#!/bin/sh
# azd preprovision hook: before anything is created, check with the Azure CLI that
#   - the Azure OpenAI region offers the model, the version and the batch SKU,
#   - the subscription's batch quota there has room for the deployment's capacity,
#   - the app's region offers Flex Consumption (zone-redundant, when asked for).
# Prints every problem with what to change and exits 1 if there is any, so `azd up` stops before
# it creates a half-working deployment. BATCHDROP_SKIP_PREFLIGHT=true skips it. Needs az (logged in).
set -eu
. "$(dirname "$0")/hooklib.sh"

if [ -z "${AZURE_ENV_NAME:-}" ]; then
  load_azd_env
fi
if [ "${BATCHDROP_SKIP_PREFLIGHT:-false}" = "true" ]; then
  echo "Preflight skipped (BATCHDROP_SKIP_PREFLIGHT=true)."
  exit 0
fi
if [ -z "${AZURE_LOCATION:-}" ]; then
  echo "Preflight skipped: AZURE_LOCATION is not set yet (azd env set AZURE_LOCATION <region> to check first)."
  exit 0
fi

# The same defaults as infra/main.parameters.json (a test keeps them equal).
location="$(normalize_region "$AZURE_LOCATION")"
openai_location="$(normalize_region "${AZURE_OPENAI_LOCATION:-$location}")"
model="${AZURE_OPENAI_MODEL:-gpt-5.4-mini}"
version="${AZURE_OPENAI_MODEL_VERSION:-2026-03-17}"
sku="${AZURE_OPENAI_DEPLOYMENT_SKU:-GlobalBatch}"
capacity="${AZURE_OPENAI_DEPLOYMENT_CAPACITY:-10000}"
deployment="${AZURE_OPENAI_DEPLOYMENT:-gpt-5-4-mini-batch}"
zone_redundant="${BATCHDROP_ZONE_REDUNDANT:-false}"

problems=0
problem() {
  echo "PREFLIGHT PROBLEM: $*" >&2
  echo >&2
  problems=$((problems + 1))
}

has_line() {
  printf '%s\n' "$1" | grep -Fqx -- "$2"
}

is_count() {
  case "$1" in
    '' | *[!0-9]*) return 1 ;;
  esac
}

# The deployment's capacity must be a whole number Azure can store (the deployment's
# sku.capacity is a 32-bit integer): anything else stops the preflight with one line, before sh
# would compare it as a number ("[: Illegal number" and a pass). Leading zeros are dropped.
require_capacity() {
  case "$capacity" in
    '' | *[!0-9]*) digits="" ;;
    *) digits="$(printf '%s' "$capacity" | sed 's/^0*//')" ;;
  esac
  if [ -z "$digits" ] || [ "${#digits}" -gt 10 ] \
    || { [ "${#digits}" -eq 10 ] && [ "$digits" -gt 2147483647 ]; }; then
    echo "Preflight: AZURE_OPENAI_DEPLOYMENT_CAPACITY=$capacity is not a whole number from 1 to 2147483647 (thousands of enqueued tokens); set one: azd env set AZURE_OPENAI_DEPLOYMENT_CAPACITY 10000" >&2
    exit 1
  fi
  capacity="$digits"
}

one_line() {
  printf '%s\n' "$1" | sort -u | tr '\n' ' ' | sed 's/ *$//'
}

# Sets usage_name (the quota that the deployment draws on) when model, version and SKU exist.
usage_name=""
check_model() {
  versions="$(azq cognitiveservices model list --location "$openai_location" \
    --query "[?model.name=='$model'].model.version" --output tsv)" || {
    problem "Could not list the models of $openai_location (the az error is above); is it a region name?"
    return 0
  }
  if [ -z "$versions" ]; then
    problem "Azure OpenAI in $openai_location does not offer the model $model." \
      "Set AZURE_OPENAI_LOCATION to a region that offers it, or AZURE_OPENAI_MODEL to a model offered there" \
      "(az cognitiveservices model list --location $openai_location --query \"[?model.skus[?name=='$sku']].model.name\" -o tsv)."
    return 0
  fi
  if ! has_line "$versions" "$version"; then
    problem "Azure OpenAI in $openai_location offers $model only in version(s): $(one_line "$versions")." \
      "Set AZURE_OPENAI_MODEL_VERSION to one of them (azd env set AZURE_OPENAI_MODEL_VERSION <version>)."
    return 0
  fi
  skus="$(azq cognitiveservices model list --location "$openai_location" \
    --query "[?model.name=='$model' && model.version=='$version'].model.skus[].[name, usageName]" --output tsv)"
  usage_name="$(printf '%s\n' "$skus" | awk -F '\t' -v sku="$sku" '$1 == sku { print $2; exit }')"
  if [ -z "$usage_name" ]; then
    offered="$(printf '%s\n' "$skus" | cut -f 1)"
    problem "$model $version in $openai_location is not offered as $sku (deployment types there: $(one_line "$offered"))." \
      "Batch needs GlobalBatch or DataZoneBatch: set AZURE_OPENAI_DEPLOYMENT_SKU to one that is offered," \
      "or AZURE_OPENAI_LOCATION to a region that offers $sku for this model."
  fi
}

# Capacity this deployment already holds (a re-provision changes it in place, so its own share of
# the quota is available to it); 0 when it does not exist yet or lives in another region.
own_capacity() {
  if [ -z "${AZURE_OPENAI_ACCOUNT_NAME:-}" ] || [ -z "${AZURE_RESOURCE_GROUP:-}" ]; then
    echo 0
    return 0
  fi
  account_location="$(azq cognitiveservices account show --name "$AZURE_OPENAI_ACCOUNT_NAME" \
    --resource-group "$AZURE_RESOURCE_GROUP" --query location --output tsv 2> /dev/null || true)"
  if [ "$(normalize_region "$account_location")" != "$openai_location" ]; then
    echo 0
    return 0
  fi
  own="$(azq cognitiveservices account deployment show --name "$AZURE_OPENAI_ACCOUNT_NAME" \
    --resource-group "$AZURE_RESOURCE_GROUP" --deployment-name "$deployment" \
    --query sku.capacity --output tsv 2> /dev/null || true)"
  echo "${own:-0}"
}

check_quota() {
  if [ -z "$usage_name" ]; then
    return 0
  fi
  quota="$(azq cognitiveservices usage list --location "$openai_location" \
    --query "[?name.value=='$usage_name'] | [0].[limit, currentValue]" --output tsv)" || quota=""
  set -- $quota
  limit="${1:-}"
  used="${2:-}"
  limit="${limit%%.*}"
  used="${used%%.*}"
  if ! is_count "$limit" || ! is_count "$used"; then
    echo "Preflight: could not read the quota $usage_name in $openai_location; the quota check is skipped." >&2
    return 0
  fi
  own="$(own_capacity)"
  own="${own%%.*}"
  is_count "$own" || own=0
  available=$((limit - used + own))
  if [ "$capacity" -gt "$available" ]; then
    problem "The $sku quota $usage_name in $openai_location has room for $available (limit $limit, in use $used," \
      "$own of it by this deployment); AZURE_OPENAI_DEPLOYMENT_CAPACITY is $capacity (thousands of enqueued tokens)." \
      "Lower it (azd env set AZURE_OPENAI_DEPLOYMENT_CAPACITY $available or less), free quota held by other" \
      "deployments of $model in $openai_location, or request more quota (https://aka.ms/oai/stuquotarequest)."
  fi
}

check_flex() {
  if [ "$zone_redundant" = "true" ]; then
    regions="$(azq functionapp list-flexconsumption-locations --zone-redundant=true --query "[].name" --output tsv)"
    what="zone-redundant Flex Consumption"
    fix="or set BATCHDROP_ZONE_REDUNDANT=false"
  else
    regions="$(azq functionapp list-flexconsumption-locations --query "[].name" --output tsv)"
    what="Flex Consumption"
    fix="(az functionapp list-flexconsumption-locations -o table)"
  fi
  for region in $(normalize_region "$regions"); do
    [ "$region" = "$location" ] && return 0
  done
  problem "$location does not offer $what. Choose another AZURE_LOCATION $fix."
}

require_capacity
require_az_login
echo "Preflight: $model $version as $sku, capacity $capacity, in $openai_location; Flex Consumption in $location."
check_model
check_quota
check_flex
if [ "$problems" -gt 0 ]; then
  echo "Preflight found $problems problem(s); nothing was created. Fix them and run azd provision again." >&2
  exit 1
fi
echo "Preflight OK."
