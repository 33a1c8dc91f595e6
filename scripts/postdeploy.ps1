# azd postdeploy hook: subscribe the blob trigger to BlobCreated events of the input container,
# then ask the deployed app whether it can work (GET /api/health) and print its verdict.
# The webhook needs the function app's blobs_extension system key, which exists only once the
# code is deployed and the host has started, so this cannot be part of `azd provision`.
# Idempotent: running it again updates the same subscription. Needs az (logged in).
# The twin of postdeploy.sh (tested there): keep the two in step.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'hooklib.ps1')

if (-not $env:AZURE_FUNCTION_APP_NAME) { Import-AzdEnv }

foreach ($name in 'AZURE_RESOURCE_GROUP', 'AZURE_FUNCTION_APP_NAME', 'AZURE_FUNCTION_APP_HOSTNAME',
                  'AZURE_EVENTGRID_SYSTEM_TOPIC_NAME', 'AZURE_EVENTGRID_DEADLETTER_CONTAINER',
                  'AZURE_STORAGE_ACCOUNT_NAME', 'BATCH_INPUT_CONTAINER') {
    if (-not [Environment]::GetEnvironmentVariable($name)) {
        throw "$name is not set: run azd provision first."
    }
}

$template = Join-Path $PSScriptRoot '..' 'infra' 'hooks' 'blob-subscription.json'
# Right after a deployment the app's role assignments can take minutes to apply: the health
# check asks again before it reports a failure.
$healthAttempts = if ($env:BATCHDROP_HEALTH_ATTEMPTS) { [int] $env:BATCHDROP_HEALTH_ATTEMPTS } else { 6 }
$healthWait = if ($env:BATCHDROP_HEALTH_WAIT_SECONDS) { [int] $env:BATCHDROP_HEALTH_WAIT_SECONDS } else { 20 }

function Get-AppKey([string] $query) {
    $value = Invoke-Az functionapp keys list --name $env:AZURE_FUNCTION_APP_NAME `
        --resource-group $env:AZURE_RESOURCE_GROUP --query $query --output tsv 2>$null
    if ($LASTEXITCODE -ne 0 -or -not $value) { return '' }
    return "$value".Trim()
}

function Wait-BlobsKey {
    Write-Host "Waiting for the blobs_extension key of $($env:AZURE_FUNCTION_APP_NAME)..."
    for ($attempt = 1; $attempt -le 12; $attempt++) {
        $key = Get-AppKey 'systemKeys.blobs_extension'
        if ($key) { return $key }
        Start-Sleep -Seconds 10
    }
    throw ("The blobs_extension key did not appear. Check that the code deployed and the host " +
        "starts (Application Insights > Failures), then run: azd hooks run postdeploy")
}

function New-BlobSubscription([string] $key) {
    # The key goes in a private temporary parameters file (not on the command line) and into a
    # securestring parameter, so it is neither echoed nor kept in the deployment history.
    $secretParams = New-TemporaryFile
    try {
        @{ blobsExtensionKey = @{ value = $key } } | ConvertTo-Json -Depth 3 |
            Set-Content -Path $secretParams.FullName -Encoding utf8NoBOM
        Write-Host "Subscribing the blob trigger to BlobCreated in $($env:BATCH_INPUT_CONTAINER)..."
        for ($attempt = 1; ; $attempt++) {
            Invoke-Az deployment group create `
                --name batchdrop-blob-subscription `
                --resource-group $env:AZURE_RESOURCE_GROUP `
                --template-file $template `
                --parameters "@$($secretParams.FullName)" `
                --parameters "systemTopicName=$($env:AZURE_EVENTGRID_SYSTEM_TOPIC_NAME)" `
                "functionAppHostName=$($env:AZURE_FUNCTION_APP_HOSTNAME)" `
                "inputContainerName=$($env:BATCH_INPUT_CONTAINER)" `
                "storageAccountName=$($env:AZURE_STORAGE_ACCOUNT_NAME)" `
                "deadLetterContainerName=$($env:AZURE_EVENTGRID_DEADLETTER_CONTAINER)" `
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
}

# One line per check of the health answer; the raw text when it is not the expected JSON.
function Write-HealthChecks([string] $content) {
    try {
        $health = $content | ConvertFrom-Json
        foreach ($check in $health.checks) {
            $mark = if ($check.ok) { '  ok    ' } else { '  FAIL  ' }
            Write-Host "$mark$($check.name): $($check.detail)"
            if (-not $check.ok -and $check.fix) { Write-Host "        fix: $($check.fix)" }
        }
    } catch {
        Write-Host $content
    }
}

# GET /api/health with the default function key; 200 is healthy, 503 names what is not, 404
# means the app's functions did not load.
function Test-Health {
    $functionKey = Get-AppKey 'functionKeys.default'
    if (-not $functionKey) {
        throw 'Health: no default function key to call /api/health with; check the app in the portal.'
    }
    $uri = "https://$($env:AZURE_FUNCTION_APP_HOSTNAME)/api/health?code=$([Uri]::EscapeDataString($functionKey))"
    Write-Host "Checking the app's health (settings, storage, Azure OpenAI, with its own identity)..."
    for ($attempt = 1; ; $attempt++) {
        $status = 0
        $content = ''
        try {
            $response = Invoke-WebRequest -Uri $uri -TimeoutSec 120 -SkipHttpErrorCheck -UseBasicParsing
            $status = [int] $response.StatusCode
            $content = "$($response.Content)"
        } catch {
            $status = 0
        }
        # A 404 is asked again too: right after a deployment the host may still be loading.
        if ($status -eq 200 -or $attempt -ge $healthAttempts) { break }
        Write-Host "Health: HTTP $status; asking again in ${healthWait}s (role assignments can take minutes)."
        Start-Sleep -Seconds $healthWait
    }
    switch ($status) {
        200 {
            Write-HealthChecks $content
            Write-Host 'Health: OK. batchdrop can read its settings, storage and Azure OpenAI.'
        }
        503 {
            Write-HealthChecks $content
            throw ('Health: FAILING. The app is deployed but cannot work until the checks marked FAIL are ' +
                'fixed (each says how); then run: azd hooks run postdeploy')
        }
        404 {
            # This version has /api/health: a 404 from the host means no function of the app loaded.
            throw ('Health: HTTP 404 from /api/health: the functions did not load (the host runs, but ' +
                'function_app.py did not index). Look at Application Insights > Failures or the Log ' +
                'stream for why (a missing app setting, a package not in requirements.txt), fix it, ' +
                'then: azd deploy')
        }
        default {
            throw ("Health: no verdict (HTTP $status). Look at the app's Log stream or Application Insights > " +
                'Failures, then run: azd hooks run postdeploy')
        }
    }
}

Assert-AzLogin
# Wake the host (Flex Consumption scales to zero) so the blob extension creates its key.
try {
    Invoke-WebRequest -Uri "https://$($env:AZURE_FUNCTION_APP_HOSTNAME)/" -TimeoutSec 60 -UseBasicParsing | Out-Null
} catch {
    # Any answer, even an error page, means the host was started.
}
$blobsKey = Wait-BlobsKey
New-BlobSubscription $blobsKey
Test-Health
