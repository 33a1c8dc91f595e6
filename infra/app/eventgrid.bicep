// The Event Grid system topic for the storage account. Its subscription (BlobCreated in the
// input container, delivered to the blob extension's webhook) needs the blobs_extension key,
// which exists only after the code is deployed: scripts/postdeploy.* create it from
// infra/hooks/blob-subscription.json. The topic's system-assigned identity writes the events the
// subscription could not deliver to the dead-letter container (its only role, see rbac.bicep).

@description('Required. System topic name.')
param name string

@description('Required. Azure region (the storage account\'s).')
param location string

@description('Optional. Tags for the topic.')
param tags object = {}

@description('Required. Resource id of the storage account that raises the events.')
param storageAccountId string

@description('Required. Resource id of the Log Analytics workspace that receives delivery-failure logs and metrics.')
param logAnalyticsWorkspaceId string

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: storageAccountId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

// DeliveryFailures is the one log category of a system topic (AegDeliveryFailureLogs); the
// metrics include DeadLetteredCount and DroppedEventCount, which alerts.bicep watches.
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: systemTopic
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'DeliveryFailures'
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

output id string = systemTopic.id
output name string = systemTopic.name
output principalId string = systemTopic.identity.principalId
