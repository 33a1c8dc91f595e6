// Every role assignment of the deployment, from one role map, each scoped to one resource.
// Only data-plane roles: no Owner, Contributor or key-listing role anywhere. The Azure OpenAI
// account's identity gets none: nothing of batchdrop makes the service read or write storage.

@description('Required. Storage account that holds host storage, inputs, outputs and the job table.')
param storageAccountName string

@description('Required. Azure OpenAI account.')
param openAiAccountName string

@description('Required. Application Insights component.')
param applicationInsightsName string

@description('Required. Principal id of the function app\'s user-assigned identity.')
param appPrincipalId string

@description('Required. Principal id of the Event Grid system topic\'s identity, which dead-letters events.')
param eventGridPrincipalId string

@description('Required. Container Event Grid dead-letters undeliverable events to.')
param deadLetterContainerName string

@description('Optional. Object id of the deploying user or pipeline; empty grants nothing.')
param userPrincipalId string = ''

@description('Optional. Kind of principal userPrincipalId is.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param userPrincipalType string = 'User'

@description('Optional. Use the custom role holding only the batch data actions; false falls back to Cognitive Services OpenAI Contributor.')
param useCustomOpenAiRole bool = true

// Built-in role definition ids.
var roles = {
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  cognitiveServicesOpenAIContributor: 'a001fd3d-188f-4b5d-821b-7da978bf7442'
}

// Role definition names are GUIDs; role names must be unique in the tenant.
var openAiBatchRoleName = guid(resourceGroup().id, 'batchdrop-openai-batch')
var openAiRole = useCustomOpenAiRole ? openAiBatchRoleName : roles.cognitiveServicesOpenAIContributor
var grantUser = !empty(userPrincipalId)

var appStorageAssignments = [
  {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleId: roles.storageBlobDataContributor
  }
  {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleId: roles.storageQueueDataContributor
  }
  {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleId: roles.storageTableDataContributor
  }
]

// Event Grid writes undeliverable events as blobs with its topic's identity ("Add managed
// identity to a role on Azure Event Grid destination": Storage Blob Data Contributor for blob
// storage); the role is on the dead-letter container only, not on the account's other data.
var deadLetterAssignments = [
  {
    principalId: eventGridPrincipalId
    principalType: 'ServicePrincipal'
    roleId: roles.storageBlobDataContributor
  }
]

// For local debugging against the deployed resources with `az login` credentials.
var userStorageAssignments = [
  {
    principalId: userPrincipalId
    principalType: userPrincipalType
    roleId: roles.storageBlobDataContributor
  }
  {
    principalId: userPrincipalId
    principalType: userPrincipalType
    roleId: roles.storageQueueDataContributor
  }
  {
    principalId: userPrincipalId
    principalType: userPrincipalType
    roleId: roles.storageTableDataContributor
  }
]

var appOpenAiAssignments = [
  {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleId: openAiRole
  }
]

var userOpenAiAssignments = [
  {
    principalId: userPrincipalId
    principalType: userPrincipalType
    roleId: openAiRole
  }
]

var storageAssignments = concat(appStorageAssignments, grantUser ? userStorageAssignments : [])
var openAiAssignments = concat(appOpenAiAssignments, grantUser ? userOpenAiAssignments : [])

var monitoringAssignments = [
  {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleId: roles.monitoringMetricsPublisher
  }
]

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storageAccount
  name: 'default'
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: deadLetterContainerName
}

resource openAiAccount 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: openAiAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// The data actions of the files and batches calls the app makes, and nothing else (no inference,
// no deployments, no keys). Microsoft documents the batch set in "Role-based access control for
// Microsoft Foundry" (permissions for batch inferencing: batch-jobs/read, batches/read,
// batches/delete, batches/cancel/action); "Authentication and authorization in Microsoft Foundry"
// denies batch creation by excluding batch-jobs/write, so creating a batch checks batch-jobs/write.
// Which of batches/read and batch-jobs/read a v1 GET /batches checks is not documented, and a
// missing action is a 403 only Azure shows: both are granted. files/* are the files API's actions
// ("Azure permissions for AI + machine learning": upload, read, delete files).
resource openAiBatchRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (useCustomOpenAiRole) {
  name: openAiBatchRoleName
  properties: {
    roleName: 'batchdrop Azure OpenAI batch (${uniqueString(resourceGroup().id)})'
    description: 'Upload, read and delete Azure OpenAI files and create, read, list and cancel batch jobs; nothing else.'
    type: 'CustomRole'
    assignableScopes: [
      resourceGroup().id
    ]
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: [
          'Microsoft.CognitiveServices/accounts/OpenAI/files/read'
          'Microsoft.CognitiveServices/accounts/OpenAI/files/write'
          'Microsoft.CognitiveServices/accounts/OpenAI/files/delete'
          'Microsoft.CognitiveServices/accounts/OpenAI/batch-jobs/read'
          'Microsoft.CognitiveServices/accounts/OpenAI/batch-jobs/write'
          'Microsoft.CognitiveServices/accounts/OpenAI/batches/read'
          'Microsoft.CognitiveServices/accounts/OpenAI/batches/delete'
          'Microsoft.CognitiveServices/accounts/OpenAI/batches/cancel/action'
        ]
        notDataActions: []
      }
    ]
  }
}

resource storageRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in storageAssignments: {
    name: guid(storageAccount.id, a.principalId, a.roleId)
    scope: storageAccount
    properties: {
      principalId: a.principalId
      principalType: a.principalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.roleId)
    }
  }
]

resource deadLetterRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in deadLetterAssignments: {
    name: guid(deadLetterContainer.id, a.principalId, a.roleId)
    scope: deadLetterContainer
    properties: {
      principalId: a.principalId
      principalType: a.principalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.roleId)
    }
  }
]

resource openAiRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in openAiAssignments: {
    name: guid(openAiAccount.id, a.principalId, a.roleId)
    scope: openAiAccount
    properties: {
      principalId: a.principalId
      principalType: a.principalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.roleId)
    }
    dependsOn: [
      openAiBatchRole
    ]
  }
]

resource monitoringRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for a in monitoringAssignments: {
    name: guid(appInsights.id, a.principalId, a.roleId)
    scope: appInsights
    properties: {
      principalId: a.principalId
      principalType: a.principalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', a.roleId)
    }
  }
]

output openAiRoleDefinitionId string = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', openAiRole)
