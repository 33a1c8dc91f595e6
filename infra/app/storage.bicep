// The storage account: Functions host storage, the app's containers, queues and table, the Flex
// Consumption deployment container and the Event Grid dead-letter container, with blob, queue and
// table logs and metrics sent to Log Analytics. Entra ID only: shared keys are off.

@description('Required. Storage account name (3-24 lowercase letters and digits).')
param name string

@description('Required. Azure region.')
param location string

@description('Optional. Tags for the account.')
param tags object = {}

@description('Required. Container users drop input files into.')
param inputContainerName string

@description('Required. Container the app writes results to.')
param outputContainerName string

@description('Required. Internal container for immutable copies and intermediate files.')
param workContainerName string

@description('Required. Container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Required. Table that holds one row per job.')
param jobsTableName string

@description('Required. Queue that hands finished batches to the completion function.')
param completionQueueName string

@description('Required. Container Event Grid writes undeliverable blob events to.')
param deadLetterContainerName string

@description('Required. Resource id of the Log Analytics workspace that receives blob, queue and table logs and metrics.')
param logAnalyticsWorkspaceId string

@description('Optional. Days after which result blobs are deleted; 0 keeps them forever.')
@minValue(0)
param outputRetentionDays int = 30

@description('Optional. Days after which internal work blobs are deleted; 0 keeps them forever.')
@minValue(0)
param workRetentionDays int = 30

@description('Optional. Redundancy of the account. LRS is offered in every region; ZRS (or GZRS) where the region has availability zones, and with a zone-redundant Flex Consumption plan.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string = 'Standard_LRS'

@description('Optional. Days deleted blobs and containers stay recoverable.')
@minValue(1)
@maxValue(365)
param softDeleteRetentionDays int = 7

// The host moves a blob-trigger message here after five failed attempts, and a completion message
// to <queue>-poison after five failed dequeues; created here so the alert has something to watch
// from the start and the portal shows them before anything failed.
var poisonQueueName = 'webjobs-blobtrigger-poison'
var completionPoisonQueueName = '${completionQueueName}-poison'

// Resource logs of each storage service and its transaction metrics (Microsoft Learn, "Supported
// logs for Microsoft.Storage/storageAccounts/blobServices" and its queue and table twins).
var storageLogs = [
  {
    category: 'StorageRead'
    enabled: true
  }
  {
    category: 'StorageWrite'
    enabled: true
  }
  {
    category: 'StorageDelete'
    enabled: true
  }
]
var storageMetrics = [
  {
    category: 'Transaction'
    enabled: true
  }
]

var outputRule = {
  enabled: true
  name: 'age-out-outputs'
  type: 'Lifecycle'
  definition: {
    actions: {
      baseBlob: {
        delete: {
          daysAfterModificationGreaterThan: outputRetentionDays
        }
      }
    }
    filters: {
      blobTypes: [
        'blockBlob'
      ]
      prefixMatch: [
        '${outputContainerName}/'
      ]
    }
  }
}

var workRule = {
  enabled: true
  name: 'age-out-work-files'
  type: 'Lifecycle'
  definition: {
    actions: {
      baseBlob: {
        delete: {
          daysAfterModificationGreaterThan: workRetentionDays
        }
      }
    }
    filters: {
      blobTypes: [
        'blockBlob'
      ]
      prefixMatch: [
        '${workContainerName}/'
      ]
    }
  }
}

var lifecycleRules = concat(outputRetentionDays > 0 ? [outputRule] : [], workRetentionDays > 0 ? [workRule] : [])

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    //checkov:skip=CKV_AZURE_206: redundancy is the skuName parameter, set from main.bicep's zoneRedundant (ZRS with a zone-redundant plan); its default, LRS, is offered in every Flex Consumption region, and results can be recomputed from the inputs.
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    dnsEndpointType: 'Standard'
    isLocalUserEnabled: false
    isSftpEnabled: false
    minimumTlsVersion: 'TLS1_2'
    //checkov:skip=CKV_AZURE_59: without VNet integration the function app, Event Grid and Azure OpenAI batch jobs reach the account over its public endpoint; anonymous access is off (allowBlobPublicAccess: false) and every request needs an Entra ID token (allowSharedKeyAccess: false).
    publicNetworkAccess: 'Enabled'
    supportsHttpsTrafficOnly: true
    networkAcls: {
      bypass: 'AzureServices'
      //checkov:skip=CKV_AZURE_35: the function app (no VNet integration), Event Grid and Azure OpenAI batch jobs reach the account over its public endpoint; every request needs an Entra ID token (shared keys are off).
      defaultAction: 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteRetentionDays
    }
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteRetentionDays
    }
  }
}

resource inputContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: inputContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource outputContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: outputContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource workContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: workContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// Event Grid writes events it could not deliver here (the subscription's deadLetterDestination),
// with the system topic's identity, which holds a role on this container only.
resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource completionQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: completionQueueName
}

resource poisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: poisonQueueName
}

resource completionPoisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: completionPoisonQueueName
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource jobsTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: jobsTableName
}

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = if (!empty(lifecycleRules)) {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: lifecycleRules
    }
  }
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: storageLogs
    metrics: storageMetrics
  }
}

// StorageQueueLogs feed the poison-queue alert (infra/app/alerts.bicep).
resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: queueService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: storageLogs
    metrics: storageMetrics
  }
}

resource tableDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: tableService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: storageLogs
    metrics: storageMetrics
  }
}

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
output deploymentContainerName string = deploymentContainer.name
output deadLetterContainerName string = deadLetterContainer.name
output blobTriggerPoisonQueueName string = poisonQueue.name
output completionPoisonQueueName string = completionPoisonQueue.name
