// The Azure OpenAI account (Entra ID only), its Global-Batch model deployment and the account's
// diagnostic settings. Dynamic quota is not set here: `dynamicThrottlingEnabled` is read-only in
// every deployments API version from 2023-10-01-preview on, so scripts/postprovision.* turn it on
// the way Microsoft documents it (az rest PATCH, "Azure OpenAI Dynamic quota").

@description('Required. Account name; also its custom subdomain, which batch needs.')
param name string

@description('Required. Azure region of the account (Global Batch and Data Zone Batch are not offered everywhere).')
param location string

@description('Optional. Tags for the account.')
param tags object = {}

@description('Optional. Public network access to the account. The function app reaches it over the public endpoint unless you add private networking.')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

@description('Required. Model deployment name (what input lines put in body.model).')
param deploymentName string

@description('Optional. Batch deployment type.')
@allowed([
  'GlobalBatch'
  'DataZoneBatch'
])
param deploymentSku string = 'GlobalBatch'

@description('Required. Model name, e.g. gpt-5.4-mini.')
param modelName string

@description('Required. Model version, e.g. 2026-03-17.')
param modelVersion string

@description('Required. Deployment capacity: for GlobalBatch and DataZoneBatch, the enqueued-token limit in thousands of tokens (1 = 1,000 tokens of input enqueued at once over all open jobs); must fit the subscription\'s batch quota for the model in the region.')
@minValue(1)
param capacity int

@description('Required. Resource id of the Log Analytics workspace that receives the account\'s logs and metrics.')
param logAnalyticsWorkspaceId string

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  identity: {
    type: 'SystemAssigned'
  }
  // The account's identity holds no role: batchdrop uploads files through the files API, it does
  // not use batch with Azure Blob Storage (input_blob), which is what would need blob access.
  properties: {
    customSubDomainName: name
    disableLocalAuth: true
    //checkov:skip=CKV_AZURE_134: set explicitly by the publicNetworkAccess parameter; its default lets the function app (no VNet integration) reach the account, which accepts Entra ID tokens only (disableLocalAuth: true). Set it to Disabled once you add a private endpoint.
    publicNetworkAccess: publicNetworkAccess
  }
}

resource deployment 'Microsoft.CognitiveServices/accounts/deployments@2024-10-01' = {
  parent: account
  name: deploymentName
  sku: {
    name: deploymentSku
    capacity: capacity
  }
  properties: {
    model: {
      format: 'OpenAI'
      name: modelName
      version: modelVersion
    }
    versionUpgradeOption: 'OnceCurrentVersionExpired'
  }
}

// Audit, request/response (metadata, no prompts) and trace logs plus every metric, so 401/403s,
// throttling and batch calls can be traced in the workspace next to the app's own telemetry.
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: account
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'Audit'
        enabled: true
      }
      {
        category: 'RequestResponse'
        enabled: true
      }
      {
        category: 'Trace'
        enabled: true
      }
      {
        category: 'AzureOpenAIRequestUsage'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

output id string = account.id
output name string = account.name
output endpoint string = account.properties.endpoint
output deploymentName string = deployment.name
