// The operations workbook (Azure portal > Monitor > Workbooks, or the workspace's Workbooks):
// jobs by state over time, open jobs with progress, failures with their reasons, tokens and
// estimated cost per deployment, the slowest jobs, quota waits, poison messages and the poller's
// heartbeat. Its queries read the app's custom events (AppEvents) and metrics (AppMetrics) in the
// workspace; workbook.json holds them, checked by tests/integration/test_infra_ops.py against the
// tables' documented columns and the names the app sends.

@description('Required. Workbook resource name: a GUID.')
param name string

@description('Required. Azure region of the workbook.')
param location string

@description('Optional. Tags for the workbook.')
param tags object = {}

@description('Required. Resource id of the Log Analytics workspace Application Insights writes to.')
param logAnalyticsWorkspaceId string

// The workbook opens on the workspace when it is opened from the gallery or a link.
var serializedData = replace(loadTextContent('workbook.json'), '__WORKSPACE_ID__', logAnalyticsWorkspaceId)

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: name
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'batchdrop operations'
    description: 'Jobs by state, open jobs with progress, failures and their reasons, tokens and estimated cost per deployment, the slowest jobs.'
    category: 'workbook'
    version: 'Notebook/1.0'
    sourceId: logAnalyticsWorkspaceId
    serializedData: serializedData
  }
}

output id string = workbook.id
