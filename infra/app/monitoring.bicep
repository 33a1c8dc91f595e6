// Log Analytics and workspace-based Application Insights, both with local (key) auth off:
// telemetry is accepted only from callers with an Entra ID token.

@description('Required. Log Analytics workspace name.')
param logAnalyticsName string

@description('Required. Application Insights component name.')
param applicationInsightsName string

@description('Required. Azure region.')
param location string

@description('Optional. Tags for both resources.')
param tags object = {}

@description('Optional. Days Log Analytics keeps data.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    retentionInDays: retentionInDays
    sku: {
      name: 'PerGB2018'
    }
    features: {
      disableLocalAuth: true
    }
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    DisableLocalAuth: true
    IngestionMode: 'LogAnalytics'
    WorkspaceResourceId: workspace.id
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

output applicationInsightsId string = appInsights.id
output applicationInsightsName string = appInsights.name
output logAnalyticsName string = workspace.name

@description('Optional. Create the alert rule that fires when the app logs BATCHDROP_ALERT (a job stuck past BATCH_STUCK_HOURS, or a batch that vanished at the service).')
param createAlertRule bool = true

// I3: a job stuck past its deadline, or a batch that disappeared, must reach a person. The app
// writes such log lines with the word BATCHDROP_ALERT; this rule counts them. Attach an action
// group in the portal (or with `az monitor scheduled-query update`) to be emailed or paged.
resource stuckJobsAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = if (createAlertRule) {
  name: '${applicationInsightsName}-stuck-jobs'
  location: location
  tags: tags
  properties: {
    displayName: 'batchdrop: a job needs attention'
    description: 'The app logged BATCHDROP_ALERT: a job stuck past BATCH_STUCK_HOURS, or a batch that disappeared at Azure OpenAI. The log line names the job.'
    severity: 2
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'traces | where message has "BATCHDROP_ALERT"'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
  }
}
