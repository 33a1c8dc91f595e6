// The Event Grid system topic for the storage account. Its subscription (BlobCreated in the
// input container, delivered to the blob extension's webhook) needs the blobs_extension key,
// which exists only after the code is deployed: scripts/postdeploy.* create it from
// infra/hooks/blob-subscription.json.

@description('Required. System topic name.')
param name string

@description('Required. Azure region (the storage account\'s).')
param location string

@description('Optional. Tags for the topic.')
param tags object = {}

@description('Required. Resource id of the storage account that raises the events.')
param storageAccountId string

resource systemTopic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    source: storageAccountId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output name string = systemTopic.name
