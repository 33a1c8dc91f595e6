# Shared by the azd hooks (scripts/pre*.ps1, post*.ps1); dot-sourced, not run. PowerShell 7.
# The twin of hooklib.sh: keep the two in step.

# azd passes the environment's values to hooks; read them from azd when a hook is run by hand.
function Import-AzdEnv {
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

# az against the subscription azd deploys to, which need not be the CLI's current one.
# Returns az's standard output; $LASTEXITCODE tells whether it worked. PowerShell reads a native
# command's output line by line and drops the line ends, CRLF included (az.cmd from WSL, where
# hooklib.sh strips the CRs itself).
function Invoke-Az {
    $azArgs = @($args)
    if ($env:AZURE_SUBSCRIPTION_ID) {
        $azArgs += @('--subscription', $env:AZURE_SUBSCRIPTION_ID)
    }
    & az @azArgs
}

# Parsed JSON of an az command (always run with --output json), or $null when it failed.
function Invoke-AzJson {
    $text = Invoke-Az @args --output json
    if ($LASTEXITCODE -ne 0) { return $null }
    if (-not $text) { return $null }
    return ($text -join "`n") | ConvertFrom-Json -NoEnumerate
}

# Stops the hook when the Azure CLI has no login: every check needs one.
function Assert-AzLogin {
    Invoke-Az account show --query id --output tsv 2>$null | Out-Null
    if ($LASTEXITCODE -ne 0) {
        $subscription = if ($env:AZURE_SUBSCRIPTION_ID) { $env:AZURE_SUBSCRIPTION_ID } else { '<current>' }
        Write-Error ("The Azure CLI is not logged in (or cannot see subscription $subscription). " +
            "Run: az login   (azd auth login alone is not enough: the hooks use the Azure CLI)") -ErrorAction Continue
        exit 1
    }
}

# Region names compare without case or spaces ("East US" = "eastus").
function ConvertTo-Region([string] $name) {
    return ($name -replace ' ', '').ToLowerInvariant()
}
