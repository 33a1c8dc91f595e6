// The Azure OpenAI account (Entra ID only) and its Global-Batch model deployment.

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

@description('Required. Deployment capacity in the units the quota page shows for batch (enqueued tokens); must fit your quota.')
@minValue(1)
param capacity int

@description('Optional. Dynamic quota, which Microsoft recommends for batch deployments.')
param dynamicQuota bool = true

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
    // The ARM schema marks this read-only, yet it is what the portal's "dynamic quota" switch sets.
    #disable-next-line BCP073
    dynamicThrottlingEnabled: dynamicQuota
  }
}

output id string = account.id
output name string = account.name
output endpoint string = account.properties.endpoint
output principalId string = account.identity.principalId
output deploymentName string = deployment.name
