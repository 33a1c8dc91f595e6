// batchdrop: everything `azd up` deploys, keyless. Resource names are an abbreviation plus a
// token unique to the subscription, environment and region. scripts/preprovision.* check model,
// SKU and quota before anything is created; scripts/postprovision.* turn on dynamic quota; the
// Event Grid subscription for the blob trigger is created after code deploy by
// scripts/postdeploy.* (infra/hooks/), which then call the app's health endpoint.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Required. azd environment name; seeds the resource names.')
param environmentName string

@minLength(1)
@description('Required. Region for all resources (Flex Consumption must be offered there).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Optional. Region of the Azure OpenAI account when the model\'s batch deployment is not offered in `location`; empty uses `location`.')
param openAiLocation string = ''

@description('Optional. Object id of the deploying user or pipeline; with grantDeployerDataRoles it gets the data roles for local debugging.')
param principalId string = ''

@description('Optional. Kind of principal principalId is.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('Optional. Grant principalId the storage and Azure OpenAI data roles (for debugging against the deployed resources); off by default, so only the app\'s identity can touch the data.')
param grantDeployerDataRoles bool = false

@description('Optional. Resource group name; empty derives it from the environment name.')
param resourceGroupName string = ''

@description('Optional. Python version of the function app (Flex Consumption runtime python 3.13).')
@allowed([
  '3.13'
])
param pythonVersion string = '3.13'

@description('Optional. Zone-redundant Flex Consumption plan and zone-redundant (ZRS) storage. Only in regions that offer zone-redundant Flex Consumption; the plan then keeps at least two always-ready instances, which are billed.')
param zoneRedundant bool = false

@description('Optional. Memory of each function app instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Optional. Most instances the function app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Optional. Name of the model deployment (what input lines name in body.model).')
param openAiDeploymentName string = 'gpt-5-4-mini-batch'

@description('Optional. Batch deployment type: GlobalBatch, or DataZoneBatch to keep processing in the data zone.')
@allowed([
  'GlobalBatch'
  'DataZoneBatch'
])
param openAiDeploymentSku string = 'GlobalBatch'

@description('Optional. Model to deploy.')
param openAiModelName string = 'gpt-5.4-mini'

@description('Optional. Model version to deploy.')
param openAiModelVersion string = '2026-03-17'

@description('Optional. Capacity of the batch deployment: its enqueued-token limit in thousands of tokens (10000 = 10M input tokens enqueued at once over all open jobs). Must fit the subscription\'s batch quota for the model in the region (the preprovision hook checks); BATCH_MAX_TOKENS is derived from it.')
@minValue(1)
param openAiDeploymentCapacity int = 10000

@description('Optional. Public network access of the Azure OpenAI account.')
@allowed([
  'Enabled'
  'Disabled'
])
param openAiPublicNetworkAccess string = 'Enabled'

@description('Optional. Dated Azure OpenAI API version for the app (e.g. 2025-04-01-preview); empty uses the v1 API.')
param openAiApiVersion string = ''

@description('Optional. Give the app a custom role with only the files and batches data actions; false falls back to Cognitive Services OpenAI Contributor (for deployers who may not create role definitions).')
param useCustomOpenAiRole bool = true

@description('Optional. Container users drop input files into.')
param inputContainerName string = 'batch-input'

@description('Optional. Container Event Grid writes blob events to that it could not deliver to the app.')
param deadLetterContainerName string = 'eventgrid-deadletter'

@description('Optional. E-mail address that receives every alert (through the action group); empty leaves the group without receivers.')
param alertEmail string = ''

@description('Optional. Container results go to.')
param outputContainerName string = 'batch-output'

@description('Optional. Internal work container.')
param workContainerName string = 'batch-work'

@description('Optional. Table with one row per job.')
param jobsTableName string = 'batchjobs'

@description('Optional. Queue that hands finished batches to the completion function.')
param completionQueueName string = 'batch-completions'

@description('Optional. NCRONTAB schedule (six fields) of the poller.')
param pollSchedule string = '0 */1 * * * *'

@description('Optional. Tries per request in all (first try plus retries of retryable failures).')
@minValue(1)
param maxAttempts int = 3

@description('Optional. Comma-separated deployment names input lines may use; empty allows any.')
param allowedDeployments string = ''

@description('Optional. Days after which result blobs are deleted by a lifecycle rule; 0 keeps them forever.')
@minValue(0)
param outputRetentionDays int = 30

@description('Optional. Days after which internal work blobs are deleted by a lifecycle rule; 0 keeps them forever.')
@minValue(0)
param workRetentionDays int = 30

@description('Optional. Price table for the app\'s cost estimates (BATCH_PRICES): JSON {"model": {"input", "output", "batch_input", "batch_output"}} in USD per 1M tokens; empty uses the example prices (examples, not promises).')
param batchPrices string = ''

@description('Optional. Days Log Analytics keeps telemetry.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
// Must match the service name in azure.yaml: azd finds the app by this tag.
var serviceName = 'batchdrop'
var functionAppName = '${abbrs.webSitesFunctions}${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var openAiAccountLocation = empty(openAiLocation) ? location : openAiLocation
var deployerPrincipalId = grantDeployerDataRoles ? principalId : ''
// One capacity unit of a GlobalBatch or DataZoneBatch deployment is 1,000 enqueued tokens (batch
// quota is counted in enqueued input tokens, deployment capacity in thousands). A batch larger than
// the whole limit could never be accepted, so files are split below it; the 10% margin covers the
// gap between the app's character-based estimate and the service's own count.
var enqueuedTokensPerCapacityUnit = 1000
var batchTokenSharePercent = 90
var batchMaxTokens = (openAiDeploymentCapacity * enqueuedTokensPerCapacityUnit * batchTokenSharePercent) / 100

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? '${abbrs.resourcesResourceGroups}${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    skuName: zoneRedundant ? 'Standard_ZRS' : 'Standard_LRS'
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
    deadLetterContainerName: deadLetterContainerName
    inputContainerName: inputContainerName
    outputContainerName: outputContainerName
    workContainerName: workContainerName
    deploymentContainerName: deploymentContainerName
    jobsTableName: jobsTableName
    completionQueueName: completionQueueName
    outputRetentionDays: outputRetentionDays
    workRetentionDays: workRetentionDays
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    retentionInDays: logRetentionDays
  }
}

module openAi 'app/openai.bicep' = {
  name: 'openai'
  scope: rg
  params: {
    name: '${abbrs.cognitiveServicesAccounts}${resourceToken}'
    location: openAiAccountLocation
    tags: tags
    publicNetworkAccess: openAiPublicNetworkAccess
    deploymentName: openAiDeploymentName
    deploymentSku: openAiDeploymentSku
    modelName: openAiModelName
    modelVersion: openAiModelVersion
    capacity: openAiDeploymentCapacity
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
  }
}

module functionApp 'app/function.bicep' = {
  name: 'function'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    serviceName: serviceName
    pythonVersion: pythonVersion
    zoneRedundant: zoneRedundant
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    openAiEndpoint: openAi.outputs.endpoint
    openAiDeployment: openAi.outputs.deploymentName
    openAiApiVersion: openAiApiVersion
    inputContainerName: inputContainerName
    outputContainerName: outputContainerName
    workContainerName: workContainerName
    jobsTableName: jobsTableName
    completionQueueName: completionQueueName
    pollSchedule: pollSchedule
    maxAttempts: string(maxAttempts)
    maxTokens: string(batchMaxTokens)
    allowedDeployments: allowedDeployments
    prices: batchPrices
  }
}

module eventGrid 'app/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: rg
  params: {
    name: '${abbrs.eventGridSystemTopics}${resourceToken}'
    location: location
    tags: tags
    storageAccountId: storage.outputs.id
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
  }
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    namePrefix: monitoring.outputs.applicationInsightsName
    location: location
    tags: tags
    alertEmail: alertEmail
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
    storageAccountName: storage.outputs.name
    blobTriggerPoisonQueueName: storage.outputs.blobTriggerPoisonQueueName
    completionPoisonQueueName: storage.outputs.completionPoisonQueueName
    systemTopicId: eventGrid.outputs.id
  }
}

module workbook 'app/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    name: guid(subscription().id, environmentName, 'batchdrop-operations-workbook')
    location: location
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsId
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    openAiAccountName: openAi.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appPrincipalId: identity.outputs.principalId
    eventGridPrincipalId: eventGrid.outputs.principalId
    deadLetterContainerName: storage.outputs.deadLetterContainerName
    userPrincipalId: deployerPrincipalId
    userPrincipalType: principalType
    useCustomOpenAiRole: useCustomOpenAiRole
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_HOSTNAME string = functionApp.outputs.defaultHostName
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_EVENTGRID_SYSTEM_TOPIC_NAME string = eventGrid.outputs.name
output AZURE_EVENTGRID_DEADLETTER_CONTAINER string = storage.outputs.deadLetterContainerName
output AZURE_OPENAI_ACCOUNT_NAME string = openAi.outputs.name
output AZURE_OPENAI_ENDPOINT string = openAi.outputs.endpoint
output AZURE_OPENAI_DEPLOYMENT string = openAi.outputs.deploymentName
output AZURE_OPENAI_ROLE_DEFINITION_ID string = rbac.outputs.openAiRoleDefinitionId
output AZURE_ALERTS_ACTION_GROUP_ID string = alerts.outputs.actionGroupId
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output BATCH_INPUT_CONTAINER string = inputContainerName
output BATCH_OUTPUT_CONTAINER string = outputContainerName
output BATCH_WORK_CONTAINER string = workContainerName
output BATCH_JOBS_TABLE string = jobsTableName
output BATCH_COMPLETION_QUEUE string = completionQueueName
