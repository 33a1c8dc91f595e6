#!/bin/sh
# azd postdeploy hook: subscribe the blob trigger to BlobCreated events of the input container,
# then ask the deployed app whether it can work (GET /api/health) and print its verdict.
# The webhook needs the function app's blobs_extension system key, which exists only once the
# code is deployed and the host has started, so this cannot be part of `azd provision`.
# Idempotent: running it again updates the same subscription. Needs az (logged in) and curl; jq,
# when present, prints the health checks one per line.
set -eu
. "$(dirname "$0")/hooklib.sh"

if [ -z "${AZURE_FUNCTION_APP_NAME:-}" ]; then
  load_azd_env
fi

: "${AZURE_RESOURCE_GROUP:?run azd provision first}"
: "${AZURE_FUNCTION_APP_NAME:?run azd provision first}"
: "${AZURE_FUNCTION_APP_HOSTNAME:?run azd provision first}"
: "${AZURE_EVENTGRID_SYSTEM_TOPIC_NAME:?run azd provision first}"
: "${AZURE_EVENTGRID_DEADLETTER_CONTAINER:?run azd provision first}"
: "${AZURE_STORAGE_ACCOUNT_NAME:?run azd provision first}"
: "${BATCH_INPUT_CONTAINER:?run azd provision first}"

template="$(dirname "$0")/../infra/hooks/blob-subscription.json"
# Right after a deployment the app's role assignments can take minutes to apply: the health
# check asks again before it reports a failure.
health_attempts="${BATCHDROP_HEALTH_ATTEMPTS:-6}"
health_wait="${BATCHDROP_HEALTH_WAIT_SECONDS:-20}"

temp_files=""
new_temp() {
  file="$(mktemp)"
  temp_files="$temp_files $file"
}
trap 'rm -f $temp_files' EXIT
trap 'exit 130' INT TERM

app_keys() {
  azq functionapp keys list --name "$AZURE_FUNCTION_APP_NAME" \
    --resource-group "$AZURE_RESOURCE_GROUP" --query "$1" --output tsv 2> /dev/null || true
}

# Function keys are base64: escape what a query string would change (+ / =) and the escape itself.
url_encode_key() {
  printf '%s' "$1" | sed -e 's/%/%25/g' -e 's/+/%2B/g' -e 's/\//%2F/g' -e 's/=/%3D/g'
}

wait_for_blobs_key() {
  echo "Waiting for the blobs_extension key of ${AZURE_FUNCTION_APP_NAME}..."
  attempt=1
  while [ "$attempt" -le 12 ]; do
    key="$(app_keys systemKeys.blobs_extension)"
    [ -n "$key" ] && return 0
    sleep 10
    attempt=$((attempt + 1))
  done
  echo "The blobs_extension key did not appear. Check that the code deployed and the host" >&2
  echo "starts (Application Insights > Failures), then run: azd hooks run postdeploy" >&2
  exit 1
}

subscribe_blob_trigger() {
  # The key goes in a private temporary parameters file (not on the command line) and into a
  # securestring parameter, so it is neither echoed nor kept in the deployment history.
  new_temp
  secret_params="$file"
  printf '{"blobsExtensionKey": {"value": "%s"}}\n' "$key" > "$secret_params"
  echo "Subscribing the blob trigger to BlobCreated in ${BATCH_INPUT_CONTAINER}..."
  attempt=1
  until azq deployment group create \
    --name batchdrop-blob-subscription \
    --resource-group "$AZURE_RESOURCE_GROUP" \
    --template-file "$template" \
    --parameters "@$secret_params" \
    --parameters systemTopicName="$AZURE_EVENTGRID_SYSTEM_TOPIC_NAME" \
    functionAppHostName="$AZURE_FUNCTION_APP_HOSTNAME" \
    inputContainerName="$BATCH_INPUT_CONTAINER" \
    storageAccountName="$AZURE_STORAGE_ACCOUNT_NAME" \
    deadLetterContainerName="$AZURE_EVENTGRID_DEADLETTER_CONTAINER" \
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
}

# One line per check of the health answer; the raw JSON when jq is not installed.
print_checks() {
  if command -v jq > /dev/null 2>&1 && jq -r '.checks[] |
      (if .ok then "  ok    " else "  FAIL  " end) + .name + ": " + (.detail // "")
      + (if (.ok | not) and ((.fix // "") != "") then "\n        fix: " + .fix else "" end)' \
      "$1" 2> /dev/null; then
    return 0
  fi
  cat "$1"
  echo
}

# GET /api/health with the default function key; 200 is healthy, 503 names what is not, 404
# means the app's functions did not load.
check_health() {
  function_key="$(app_keys functionKeys.default)"
  if [ -z "$function_key" ]; then
    echo "Health: no default function key to call /api/health with; check the app in the portal." >&2
    exit 1
  fi
  # The key goes to curl in a private config file, not on its command line.
  new_temp
  config="$file"
  printf 'url = "https://%s/api/health?code=%s"\n' "$AZURE_FUNCTION_APP_HOSTNAME" \
    "$(url_encode_key "$function_key")" > "$config"
  new_temp
  body="$file"
  echo "Checking the app's health (settings, storage, Azure OpenAI, with its own identity)..."
  attempt=1
  while :; do
    status="$(curl --silent --show-error --max-time 120 --output "$body" --write-out '%{http_code}' \
      --config "$config")" || status="000"
    # A 404 is asked again too: right after a deployment the host may still be loading.
    [ "$status" = "200" ] && break
    [ "$attempt" -ge "$health_attempts" ] && break
    echo "Health: HTTP $status; asking again in ${health_wait}s (role assignments can take minutes)."
    sleep "$health_wait"
    attempt=$((attempt + 1))
  done
  report_health "$status"
}

report_health() {
  case "$1" in
    200)
      print_checks "$body"
      echo "Health: OK. batchdrop can read its settings, storage and Azure OpenAI."
      ;;
    503)
      print_checks "$body"
      echo "Health: FAILING. The app is deployed but cannot work until the checks marked FAIL are" >&2
      echo "fixed (each says how); then run: azd hooks run postdeploy" >&2
      exit 1
      ;;
    404)
      # This version has /api/health: a 404 from the host means no function of the app loaded.
      echo "Health: HTTP 404 from /api/health: the functions did not load (the host runs, but" >&2
      echo "function_app.py did not index). Look at Application Insights > Failures or the Log" >&2
      echo "stream for why (a missing app setting, a package not in requirements.txt), fix it," >&2
      echo "then: azd deploy" >&2
      exit 1
      ;;
    *)
      echo "Health: no verdict (HTTP $1). Look at the app's Log stream or Application Insights >" >&2
      echo "Failures, then run: azd hooks run postdeploy" >&2
      exit 1
      ;;
  esac
}

require_az_login
# Wake the host (Flex Consumption scales to zero) so the blob extension creates its key.
curl --silent --output /dev/null --max-time 60 "https://${AZURE_FUNCTION_APP_HOSTNAME}/" || true
wait_for_blobs_key
subscribe_blob_trigger
check_health
