# azd postdeploy hook: subscribe the blob trigger to BlobCreated events of the input container.
# The webhook needs the function app's blobs_extension system key, which exists only once the
# code is deployed and the host has started, so this cannot be part of `azd provision`.
# Idempotent: running it again updates the same subscription. Needs az (logged in).
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

# azd passes the environment's values to hooks; read them from azd when run by hand.
if (-not $env:AZURE_FUNCTION_APP_NAME) {
    foreach ($line in (azd env get-values)) {
        if ($line -match '^\s*([^#=][^=]*)=(.*)$') {
            $value = $Matches[2].Trim()
            if ($value.Length -ge 2 -and $value.StartsWith('"') -and $value.EndsWith('"')) {
                $value = $value.Substring(1, $value.Length - 2)
            }
            Set-Item -Path "env:$($Matches[1].Trim())" -Value $value
        }
    }
}

foreach ($name in 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'AZURE_FUNCTION_APP_HOSTNAME',
                  'AZURE_EVENTGRID_SYSTEM_TOPIC_NAME', 'BATCH_INPUT_CONTAINER') {
    if (-not [Environment]::GetEnvironmentVariable($name)) {
        throw "$name is not set: run azd provision first."
    }
}

$template = Join-Path $PSScriptRoot '..' 'infra' 'hooks' 'blob-subscription.json'

# Wake the host (Flex Consumption scales to zero) so the blob extension creates its key.
try {
    Invoke-WebRequest -Uri "https://$($env:AZURE_FUNCTION_APP_HOSTNAME)/" -TimeoutSec 60 -UseBasicParsing | Out-Null
} catch {
    # Any answer, even an error page, means the host was started.
}

Write-Host "Waiting for the blobs_extension key of $($env:AZURE_FUNCTION_APP_NAME)..."
$key = ''
for ($attempt = 1; $attempt -le 12; $attempt++) {
    $key = az functionapp keys list `
        --name $env:AZURE_FUNCTION_APP_NAME `
        --resource-group $env:AZURE_RESOURCE_GROUP `
        --query 'systemKeys.blobs_extension' --output tsv 2>$null
    if ($LASTEXITCODE -eq 0 -and $key) { break }
    $key = ''
    Start-Sleep -Seconds 10
}
if (-not $key) {
    throw ("The blobs_extension key did not appear. Check that the code deployed and the host " +
        "starts (Application Insights > Failures), then run: azd hooks run postdeploy")
}

# The key goes in a private temporary parameters file (not on the command line) and into a
# securestring parameter, so it is neither echoed nor kept in the deployment history.
$secretParams = New-TemporaryFile
try {
    @{ blobsExtensionKey = @{ value = "$key".Trim() } } | ConvertTo-Json -Depth 3 |
        Set-Content -Path $secretParams.FullName -Encoding utf8
    Write-Host "Subscribing the blob trigger to BlobCreated in $($env:BATCH_INPUT_CONTAINER)..."
    for ($attempt = 1; ; $attempt++) {
        az deployment group create `
            --name batchdrop-blob-subscription `
            --resource-group $env:AZURE_RESOURCE_GROUP `
            --template-file $template `
            --parameters "@$($secretParams.FullName)" `
            --parameters "systemTopicName=$($env:AZURE_EVENTGRID_SYSTEM_TOPIC_NAME)" `
                         "functionAppHostName=$($env:AZURE_FUNCTION_APP_HOSTNAME)" `
                         "inputContainerName=$($env:BATCH_INPUT_CONTAINER)" `
            --output none
        if ($LASTEXITCODE -eq 0) { break }
        # Event Grid validates the webhook when it creates the subscription; a host still starting fails that.
        if ($attempt -ge 3) {
            throw 'Creating the Event Grid subscription failed; run: azd hooks run postdeploy'
        }
        Start-Sleep -Seconds 30
    }
} finally {
    Remove-Item -Path $secretParams.FullName -Force -ErrorAction SilentlyContinue
}
Write-Host "Done: files dropped into $($env:BATCH_INPUT_CONTAINER) now start submit_prompt_file."
