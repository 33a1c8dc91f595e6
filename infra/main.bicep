// batchdrop: everything `azd up` deploys, keyless. Resource names are an abbreviation plus a
// token unique to the subscription, environment and region. The Event Grid subscription for the
// blob trigger is created after code deploy by scripts/postdeploy.*, see infra/hooks/.
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

@description('Optional. Object id of the deploying user or pipeline; it gets the data roles for local debugging. Empty grants nothing.')
param principalId string = ''

@description('Optional. Kind of principal principalId is.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('Optional. Grant principalId the storage and Azure OpenAI data roles.')
param grantDeployerDataRoles bool = true

@description('Optional. Resource group name; empty derives it from the environment name.')
param resourceGroupName string = ''

@description('Optional. Python version of the function app.')
@allowed([
  '3.11'
  '3.12'
])
param pythonVersion string = '3.11'

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

@description('Optional. Capacity of the batch deployment (enqueued-token quota units); must fit the subscription\'s quota.')
@minValue(1)
param openAiDeploymentCapacity int = 50

@description('Optional. Turn dynamic quota on for the deployment, as Microsoft recommends for batch.')
param openAiDynamicQuota bool = true

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
    dynamicQuota: openAiDynamicQuota
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
    allowedDeployments: allowedDeployments
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
    openAiPrincipalId: openAi.outputs.principalId
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
output AZURE_OPENAI_ACCOUNT_NAME string = openAi.outputs.name
output AZURE_OPENAI_ENDPOINT string = openAi.outputs.endpoint
output AZURE_OPENAI_DEPLOYMENT string = openAi.outputs.deploymentName
output AZURE_OPENAI_ROLE_DEFINITION_ID string = rbac.outputs.openAiRoleDefinitionId
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output BATCH_INPUT_CONTAINER string = inputContainerName
output BATCH_OUTPUT_CONTAINER string = outputContainerName
output BATCH_WORK_CONTAINER string = workContainerName
output BATCH_JOBS_TABLE string = jobsTableName
output BATCH_COMPLETION_QUEUE string = completionQueueName
