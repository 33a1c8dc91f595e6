#!/bin/sh
# azd postdeploy hook: subscribe the blob trigger to BlobCreated events of the input container.
# The webhook needs the function app's blobs_extension system key, which exists only once the
# code is deployed and the host has started, so this cannot be part of `azd provision`.
# Idempotent: running it again updates the same subscription. Needs az (logged in) and curl.
set -eu

# azd passes the environment's values to hooks; read them from azd when run by hand.
load_azd_env() {
  values="$(mktemp)"
  azd env get-values > "$values"
  while IFS='=' read -r name value; do
    case "$name" in '' | \#*) continue ;; esac
    value="${value#\"}"
    value="${value%\"}"
    export "$name=$value"
  done < "$values"
  rm -f "$values"
}

if [ -z "${AZURE_FUNCTION_APP_NAME:-}" ]; then
  load_azd_env
fi

: "${AZURE_RESOURCE_GROUP:?run azd provision first}"
: "${AZURE_FUNCTION_APP_NAME:?run azd provision first}"
: "${AZURE_FUNCTION_APP_HOSTNAME:?run azd provision first}"
: "${AZURE_EVENTGRID_SYSTEM_TOPIC_NAME:?run azd provision first}"
: "${BATCH_INPUT_CONTAINER:?run azd provision first}"

template="$(dirname "$0")/../infra/hooks/blob-subscription.json"

# Wake the host (Flex Consumption scales to zero) so the blob extension creates its key.
curl --silent --output /dev/null --max-time 60 "https://${AZURE_FUNCTION_APP_HOSTNAME}/" || true

echo "Waiting for the blobs_extension key of ${AZURE_FUNCTION_APP_NAME}..."
key=""
attempt=1
while [ "$attempt" -le 12 ]; do
  key="$(az functionapp keys list \
    --name "$AZURE_FUNCTION_APP_NAME" \
    --resource-group "$AZURE_RESOURCE_GROUP" \
    --query "systemKeys.blobs_extension" --output tsv 2>/dev/null || true)"
  [ -n "$key" ] && break
  sleep 10
  attempt=$((attempt + 1))
done
if [ -z "$key" ]; then
  echo "The blobs_extension key did not appear. Check that the code deployed and the host" >&2
  echo "starts (Application Insights > Failures), then run: azd hooks run postdeploy" >&2
  exit 1
fi

# The key goes in a private temporary parameters file (not on the command line) and into a
# securestring parameter, so it is neither echoed nor kept in the deployment history.
secret_params="$(mktemp)"
trap 'rm -f "$secret_params"' EXIT
trap 'exit 130' INT TERM
printf '{"blobsExtensionKey": {"value": "%s"}}\n' "$key" > "$secret_params"

echo "Subscribing the blob trigger to BlobCreated in ${BATCH_INPUT_CONTAINER}..."
attempt=1
until az deployment group create \
  --name batchdrop-blob-subscription \
  --resource-group "$AZURE_RESOURCE_GROUP" \
  --template-file "$template" \
  --parameters "@$secret_params" \
  --parameters systemTopicName="$AZURE_EVENTGRID_SYSTEM_TOPIC_NAME" \
               functionAppHostName="$AZURE_FUNCTION_APP_HOSTNAME" \
               inputContainerName="$BATCH_INPUT_CONTAINER" \
  --output none; do
  # Event Grid validates the webhook when it creates the subscription; a host still starting fails that.
  if [ "$attempt" -ge 3 ]; then
    echo "Creating the Event Grid subscription failed; run: azd hooks run postdeploy" >&2
    exit 1
  fi
  sleep 30
  attempt=$((attempt + 1))
done
echo "Done: files dropped into ${BATCH_INPUT_CONTAINER} now start submit_prompt_file."
