# Shared by the azd hooks (scripts/pre*.sh, post*.sh); sourced, not run. POSIX sh.

# azd passes the environment's values to hooks; read them from azd when a hook is run by hand.
load_azd_env() {
  values="$(mktemp)"
  azd env get-values > "$values"
  while IFS='=' read -r name value; do
    case "$name" in '' | \#*) continue ;; esac
    value="$(printf '%s' "$value" | without_cr)"  # azd.exe from WSL ends lines with CRLF
    value="${value#\"}"
    value="${value%\"}"
    export "$name=$value"
  done < "$values"
  rm -f "$values"
}

# az against the subscription azd deploys to, which need not be the CLI's current one, with
# its exit status and its output without carriage returns: az.cmd run from WSL ends lines with
# CRLF, and a value read with its CR ("eastus\r", "10000\r") never equals or compares as the
# value itself. The output is passed on once az has ended (az's errors still go to stderr).
azq() {
  if [ -n "${AZURE_SUBSCRIPTION_ID:-}" ]; then
    set -- "$@" --subscription "$AZURE_SUBSCRIPTION_ID"
  fi
  azq_status=0
  azq_output="$(az "$@")" || azq_status=$?
  if [ -n "$azq_output" ]; then
    printf '%s\n' "$azq_output" | without_cr
  fi
  return "$azq_status"
}

without_cr() {
  tr -d '\r'
}

# Stops the hook when the Azure CLI has no login: every check below needs one.
require_az_login() {
  if ! azq account show --query id --output tsv > /dev/null 2>&1; then
    echo "The Azure CLI is not logged in (or cannot see subscription ${AZURE_SUBSCRIPTION_ID:-<current>})." >&2
    echo "Run: az login   (azd auth login alone is not enough: the hooks use the Azure CLI)" >&2
    exit 1
  fi
}

# Region names compare without case or spaces ("East US" = "eastus").
normalize_region() {
  printf '%s\n' "$1" | tr 'A-Z' 'a-z' | tr -d ' '
}
