# azd postprovision hook: turn on dynamic quota for the batch deployment, which Microsoft recommends
# for every global batch deployment. Bicep cannot: dynamicThrottlingEnabled is read-only in the
# deployments schema of every API version. This is the documented way ("Azure OpenAI Dynamic
# quota", Enable dynamic quota): an az rest PATCH with api-version 2023-10-01-preview. It runs after
# every provision because a provision rewrites the deployment. A failure only warns.
# AZURE_OPENAI_DYNAMIC_QUOTA=false leaves the deployment as it is. Needs az (logged in).
# The twin of postprovision.sh (tested there): keep the two in step.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'hooklib.ps1')

if (-not $env:AZURE_ENV_NAME) { Import-AzdEnv }
$dynamicQuota = if ($env:AZURE_OPENAI_DYNAMIC_QUOTA) { $env:AZURE_OPENAI_DYNAMIC_QUOTA } else { 'true' }
if ($dynamicQuota -ne 'true') {
    Write-Host "Dynamic quota left as it is (AZURE_OPENAI_DYNAMIC_QUOTA=$dynamicQuota)."
    exit 0
}
foreach ($name in 'AZURE_RESOURCE_GROUP', 'AZURE_OPENAI_ACCOUNT_NAME', 'AZURE_OPENAI_DEPLOYMENT') {
    if (-not [Environment]::GetEnvironmentVariable($name)) {
        throw "$name is not set: run azd provision first."
    }
}
Assert-AzLogin

$subscription = if ($env:AZURE_SUBSCRIPTION_ID) { $env:AZURE_SUBSCRIPTION_ID } else { az account show --query id --output tsv }
$deployment = $env:AZURE_OPENAI_DEPLOYMENT
$url = "https://management.azure.com/subscriptions/$subscription/resourceGroups/$($env:AZURE_RESOURCE_GROUP)" +
    "/providers/Microsoft.CognitiveServices/accounts/$($env:AZURE_OPENAI_ACCOUNT_NAME)" +
    "/deployments/$deployment`?api-version=2023-10-01-preview"

function Write-DynamicQuotaWarning([string] $reason) {
    Write-Warning ("Dynamic quota for ${deployment}: $reason Turn it on in the Foundry portal (Deployments > " +
        "$deployment > Edit > Enable dynamic quota), or set AZURE_OPENAI_DYNAMIC_QUOTA=false to stop this step.")
}

Write-Host "Turning on dynamic quota for $deployment..."
# The body goes through a file: quoting JSON for a native command differs between shells.
$body = New-TemporaryFile
try {
    '{"properties": {"dynamicThrottlingEnabled": true}}' | Set-Content -Path $body.FullName -Encoding utf8NoBOM
    az rest --method patch --url $url --body "@$($body.FullName)" --output none
    if ($LASTEXITCODE -ne 0) {
        Write-DynamicQuotaWarning 'the PATCH failed (the az error is above).'
        exit 0
    }
} finally {
    Remove-Item -Path $body.FullName -Force -ErrorAction SilentlyContinue
}
$state = az rest --method get --url $url --query properties.dynamicThrottlingEnabled --output tsv
if ($LASTEXITCODE -eq 0 -and "$state".Trim() -eq 'true') {
    Write-Host "Dynamic quota is on for $deployment."
} else {
    Write-DynamicQuotaWarning "Azure accepted the PATCH but reports dynamicThrottlingEnabled=$state."
}
