#!/bin/sh
# azd postprovision hook: turn on dynamic quota for the batch deployment, which Microsoft recommends
# for every global batch deployment ("Getting started with Azure OpenAI batch deployments"). Bicep
# cannot do it: dynamicThrottlingEnabled is read-only in the deployments schema of every API
# version, so setting it there does nothing. This is the way Microsoft documents instead ("Azure
# OpenAI Dynamic quota", Enable dynamic quota): an az rest PATCH of the property with api-version
# 2023-10-01-preview. It runs after every provision because a provision rewrites the deployment.
# A failure only warns: dynamic quota adds capacity when Azure has some, the app works without it.
# AZURE_OPENAI_DYNAMIC_QUOTA=false leaves the deployment as it is. Needs az (logged in).
set -eu
. "$(dirname "$0")/hooklib.sh"

if [ -z "${AZURE_ENV_NAME:-}" ]; then
  load_azd_env
fi
if [ "${AZURE_OPENAI_DYNAMIC_QUOTA:-true}" != "true" ]; then
  echo "Dynamic quota left as it is (AZURE_OPENAI_DYNAMIC_QUOTA=${AZURE_OPENAI_DYNAMIC_QUOTA})."
  exit 0
fi
: "${AZURE_RESOURCE_GROUP:?run azd provision first}"
: "${AZURE_OPENAI_ACCOUNT_NAME:?run azd provision first}"
: "${AZURE_OPENAI_DEPLOYMENT:?run azd provision first}"
require_az_login

subscription="${AZURE_SUBSCRIPTION_ID:-$(az account show --query id --output tsv | without_cr)}"
url="https://management.azure.com/subscriptions/${subscription}/resourceGroups/${AZURE_RESOURCE_GROUP}"
url="${url}/providers/Microsoft.CognitiveServices/accounts/${AZURE_OPENAI_ACCOUNT_NAME}"
url="${url}/deployments/${AZURE_OPENAI_DEPLOYMENT}?api-version=2023-10-01-preview"

warn() {
  echo "WARNING: dynamic quota for ${AZURE_OPENAI_DEPLOYMENT}: $*" >&2
  echo "Turn it on in the Foundry portal (Deployments > ${AZURE_OPENAI_DEPLOYMENT} > Edit >" \
    "Enable dynamic quota), or set AZURE_OPENAI_DYNAMIC_QUOTA=false to stop this step." >&2
}

echo "Turning on dynamic quota for ${AZURE_OPENAI_DEPLOYMENT}..."
if ! az rest --method patch --url "$url" \
  --body '{"properties": {"dynamicThrottlingEnabled": true}}' --output none; then
  warn "the PATCH failed (the az error is above)."
  exit 0
fi
state="$(az rest --method get --url "$url" --query properties.dynamicThrottlingEnabled --output tsv \
  | without_cr || true)"
if [ "$state" = "true" ]; then
  echo "Dynamic quota is on for ${AZURE_OPENAI_DEPLOYMENT}."
else
  warn "Azure accepted the PATCH but reports dynamicThrottlingEnabled=${state:-<none>}."
fi
