# azd preprovision hook: before anything is created, check with the Azure CLI that
#   - the Azure OpenAI region offers the model, the version and the batch SKU,
#   - the subscription's batch quota there has room for the deployment's capacity,
#   - the app's region offers Flex Consumption (zone-redundant, when asked for).
# Prints every problem with what to change and exits 1 if there is any, so `azd up` stops before
# it creates a half-working deployment. BATCHDROP_SKIP_PREFLIGHT=true skips it. Needs az (logged in).
# The twin of preprovision.sh (tested there): keep the two in step.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
. (Join-Path $PSScriptRoot 'hooklib.ps1')

if (-not $env:AZURE_ENV_NAME) { Import-AzdEnv }
if ($env:BATCHDROP_SKIP_PREFLIGHT -eq 'true') {
    Write-Host 'Preflight skipped (BATCHDROP_SKIP_PREFLIGHT=true).'
    exit 0
}
if (-not $env:AZURE_LOCATION) {
    Write-Host 'Preflight skipped: AZURE_LOCATION is not set yet (azd env set AZURE_LOCATION <region> to check first).'
    exit 0
}

function Get-Setting([string] $name, [string] $default) {
    $value = [Environment]::GetEnvironmentVariable($name)
    if ($value) { return $value } else { return $default }
}

# The same defaults as infra/main.parameters.json and preprovision.sh.
$location = ConvertTo-Region $env:AZURE_LOCATION
$openAiLocation = ConvertTo-Region (Get-Setting 'AZURE_OPENAI_LOCATION' $location)
$model = Get-Setting 'AZURE_OPENAI_MODEL' 'gpt-5.4-mini'
$version = Get-Setting 'AZURE_OPENAI_MODEL_VERSION' '2026-03-17'
$sku = Get-Setting 'AZURE_OPENAI_DEPLOYMENT_SKU' 'GlobalBatch'
$capacityText = Get-Setting 'AZURE_OPENAI_DEPLOYMENT_CAPACITY' '10000'
$deployment = Get-Setting 'AZURE_OPENAI_DEPLOYMENT' 'gpt-5-4-mini-batch'
$zoneRedundant = (Get-Setting 'BATCHDROP_ZONE_REDUNDANT' 'false') -eq 'true'

$script:problems = 0
function Add-Problem([string] $message) {
    [Console]::Error.WriteLine("PREFLIGHT PROBLEM: $message`n")
    $script:problems++
}

# Returns the quota (usage) name the deployment draws on, or '' when model, version or SKU is missing.
function Test-Model {
    $versions = @(Invoke-AzJson cognitiveservices model list --location $openAiLocation `
            --query "[?model.name=='$model'].model.version")
    if ($LASTEXITCODE -ne 0) {
        Add-Problem "Could not list the models of $openAiLocation (the az error is above); is it a region name?"
        return ''
    }
    if ($versions.Count -eq 0 -or $null -eq $versions[0]) {
        Add-Problem ("Azure OpenAI in $openAiLocation does not offer the model $model. " +
            "Set AZURE_OPENAI_LOCATION to a region that offers it, or AZURE_OPENAI_MODEL to a model offered there " +
            "(az cognitiveservices model list --location $openAiLocation --query `"[?model.skus[?name=='$sku']].model.name`" -o tsv).")
        return ''
    }
    if ($versions -notcontains $version) {
        $offered = ($versions | Sort-Object -Unique) -join ' '
        Add-Problem ("Azure OpenAI in $openAiLocation offers $model only in version(s): $offered. " +
            'Set AZURE_OPENAI_MODEL_VERSION to one of them (azd env set AZURE_OPENAI_MODEL_VERSION <version>).')
        return ''
    }
    $skus = @(Invoke-AzJson cognitiveservices model list --location $openAiLocation `
            --query "[?model.name=='$model' && model.version=='$version'].model.skus[]")
    $match = @($skus | Where-Object { $_.name -eq $sku })
    if ($match.Count -eq 0) {
        $offered = ($skus | ForEach-Object { $_.name } | Sort-Object -Unique) -join ' '
        Add-Problem ("$model $version in $openAiLocation is not offered as $sku (deployment types there: $offered). " +
            'Batch needs GlobalBatch or DataZoneBatch: set AZURE_OPENAI_DEPLOYMENT_SKU to one that is offered, ' +
            "or AZURE_OPENAI_LOCATION to a region that offers $sku for this model.")
        return ''
    }
    return [string] $match[0].usageName
}

# Capacity this deployment already holds (a re-provision changes it in place); 0 when it does not
# exist yet or lives in another region.
function Get-OwnCapacity {
    if (-not $env:AZURE_OPENAI_ACCOUNT_NAME -or -not $env:AZURE_RESOURCE_GROUP) { return 0 }
    $account = Invoke-AzJson cognitiveservices account show --name $env:AZURE_OPENAI_ACCOUNT_NAME `
        --resource-group $env:AZURE_RESOURCE_GROUP 2>$null
    if (-not $account -or (ConvertTo-Region $account.location) -ne $openAiLocation) { return 0 }
    $existing = Invoke-AzJson cognitiveservices account deployment show --name $env:AZURE_OPENAI_ACCOUNT_NAME `
        --resource-group $env:AZURE_RESOURCE_GROUP --deployment-name $deployment 2>$null
    if (-not $existing) { return 0 }
    return [long] $existing.sku.capacity
}

# The deployment's capacity must be a whole number Azure can store (the deployment's
# sku.capacity is a 32-bit integer): anything else stops the preflight with one line.
function Get-Capacity {
    $value = 0L
    if ($capacityText -notmatch '^[0-9]+\z' -or -not [long]::TryParse($capacityText, [ref] $value) -or
        $value -lt 1 -or $value -gt 2147483647) {
        [Console]::Error.WriteLine("Preflight: AZURE_OPENAI_DEPLOYMENT_CAPACITY=$capacityText is not a whole number from 1 to 2147483647 (thousands of enqueued tokens); set one: azd env set AZURE_OPENAI_DEPLOYMENT_CAPACITY 10000")
        exit 1
    }
    return $value
}

function Test-Quota([string] $usageName) {
    if (-not $usageName) { return }
    $usage = @(Invoke-AzJson cognitiveservices usage list --location $openAiLocation `
            --query "[?name.value=='$usageName']")
    if ($usage.Count -eq 0 -or $null -eq $usage[0]) {
        [Console]::Error.WriteLine("Preflight: could not read the quota $usageName in $openAiLocation; the quota check is skipped.")
        return
    }
    $limit = [long] [math]::Floor([double] $usage[0].limit)
    $used = [long] [math]::Floor([double] $usage[0].currentValue)
    $own = Get-OwnCapacity
    $available = $limit - $used + $own
    if ($capacity -gt $available) {
        Add-Problem ("The $sku quota $usageName in $openAiLocation has room for $available (limit $limit, in use $used, " +
            "$own of it by this deployment); AZURE_OPENAI_DEPLOYMENT_CAPACITY is $capacity (thousands of enqueued tokens). " +
            "Lower it (azd env set AZURE_OPENAI_DEPLOYMENT_CAPACITY $available or less), free quota held by other " +
            "deployments of $model in $openAiLocation, or request more quota (https://aka.ms/oai/stuquotarequest).")
    }
}

function Test-Flex {
    if ($zoneRedundant) {
        $regions = @(Invoke-AzJson functionapp list-flexconsumption-locations --zone-redundant=true --query '[].name')
        $what = 'zone-redundant Flex Consumption'
        $fix = 'or set BATCHDROP_ZONE_REDUNDANT=false'
    } else {
        $regions = @(Invoke-AzJson functionapp list-flexconsumption-locations --query '[].name')
        $what = 'Flex Consumption'
        $fix = '(az functionapp list-flexconsumption-locations -o table)'
    }
    if (($regions | ForEach-Object { ConvertTo-Region $_ }) -notcontains $location) {
        Add-Problem "$location does not offer $what. Choose another AZURE_LOCATION $fix."
    }
}

$capacity = Get-Capacity
Assert-AzLogin
Write-Host "Preflight: $model $version as $sku, capacity $capacity, in $openAiLocation; Flex Consumption in $location."
$usageName = Test-Model
Test-Quota $usageName
Test-Flex
if ($script:problems -gt 0) {
    [Console]::Error.WriteLine("Preflight found $($script:problems) problem(s); nothing was created. Fix them and run azd provision again.")
    exit 1
}
Write-Host 'Preflight OK.'
