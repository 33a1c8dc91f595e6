// The action group and every alert rule of the deployment. Each rule sends to the one action
// group, so an e-mail (the alertEmail parameter), or any receiver added to the group later in the
// portal, hears about all of them. To add a rule: declare it here with `actions: logAlertActions`;
// a test checks that no rule is left without the action group. Every rule is a scheduled query
// rule: metric alerts need the quoted key 'odata.type', which pycep-parser keeps quoted, so the
// offline schema check could not verify them (metrics reach the workspace as AzureMetrics anyway).

@description('Required. Prefix of the alert rule names.')
param namePrefix string

@description('Required. Azure region of the scheduled query rules.')
param location string

@description('Optional. Tags for the action group and the rules.')
param tags object = {}

@description('Optional. E-mail address that receives every alert; empty creates the action group without receivers (add them in the portal).')
param alertEmail string = ''

@description('Required. Resource id of the Application Insights component the app logs to.')
param applicationInsightsId string

@description('Required. Resource id of the Log Analytics workspace that receives the storage logs.')
param logAnalyticsWorkspaceId string

@description('Required. Name of the storage account whose poison queues are watched.')
param storageAccountName string

@description('Required. Queue the Functions host moves failing blob-trigger messages to.')
param blobTriggerPoisonQueueName string

@description('Required. Queue the Functions host moves failing completion messages to.')
param completionPoisonQueueName string

@description('Required. Resource id of the Event Grid system topic that feeds the blob trigger (its metrics are in the workspace).')
param systemTopicId string

@description('Optional. How long without a poll tick before the poller counts as stopped (ISO 8601, PT5M to P2D); keep it several times the POLL_SCHEDULE interval.')
param pollerSilence string = 'PT15M'

var emailReceivers = empty(alertEmail) ? [] : [
  {
    name: 'alert-email'
    emailAddress: alertEmail
    useCommonAlertSchema: true
  }
]

// A put of a message into a poison queue is a message that failed five times; StorageQueueLogs
// come from the queue service's diagnostic setting (storage.bicep).
var undeliveredQuery = 'AzureMetrics | where ResourceId =~ "${systemTopicId}" and MetricName in ("DeadLetteredCount", "DroppedEventCount") and Total > 0'

var poisonQuery = 'StorageQueueLogs | where AccountName == "${storageAccountName}" and OperationName == "PutMessage" | where Uri contains "/${blobTriggerPoisonQueueName}/messages" or Uri contains "/${completionPoisonQueueName}/messages"'

// The app's own telemetry (shared/telemetry): custom events in AppEvents, custom metrics in
// AppMetrics, both in the workspace that Application Insights writes to.
var failedJobsQuery = 'AppEvents | where Name == "JobStateChanged" and tostring(Properties.status) == "failed" | project TimeGenerated, job_id = tostring(Properties.job_id), input_name = tostring(Properties.input_name), last_error = tostring(Properties.last_error)'

// One row whatever happened: the number of poll-tick records in the window (0 when the timer
// stopped), so the rule does not depend on how an empty result is counted.
var pollerQuery = 'AppMetrics | where Name == "batchdrop.poll.ticks" | summarize ticks = count()'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-alerts'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'batchdrop'
    enabled: true
    emailReceivers: emailReceivers
  }
}

var logAlertActions = {
  actionGroups: [
    actionGroup.id
  ]
}

// I3: a job stuck past its deadline, a batch that disappeared, or a wrong setting that makes
// jobs wait must reach a person. The app writes such log lines with the word BATCHDROP_ALERT;
// this rule counts them.
resource stuckJobsAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-stuck-jobs'
  location: location
  tags: tags
  properties: {
    displayName: 'batchdrop: a job needs attention'
    description: 'The app logged BATCHDROP_ALERT: a job waiting for a wrong setting (the line names the setting and the fix), a job stuck past BATCH_STUCK_HOURS, a batch that disappeared at Azure OpenAI, or messages in a poison queue. The log line names the job or the queue.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
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
    actions: logAlertActions
  }
}

resource poisonMessagesAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-poison-messages'
  location: location
  tags: tags
  properties: {
    displayName: 'batchdrop: a message went to a poison queue'
    description: 'A blob event or a completion message failed five times and the Functions host moved it to ${blobTriggerPoisonQueueName} or ${completionPoisonQueueName}. Look at the queue in the Storage browser and at the function\'s failures in Application Insights.'
    severity: 2
    enabled: true
    scopes: [
      logAnalyticsWorkspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: poisonQuery
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
    actions: logAlertActions
  }
}

// Events Event Grid gave up on after the subscription's retry policy are written to the
// dead-letter container (DeadLetteredCount) or, if that fails too, dropped (DroppedEventCount).
// Both metrics are exported to the workspace by the system topic's diagnostic setting (Microsoft
// Learn, "Azure Event Grid - Monitor data reference (push delivery)"), so this is a log alert on
// AzureMetrics like the others: one kind of rule, one kind of action wiring.
resource undeliveredEventsAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-undelivered-events'
  location: location
  tags: tags
  properties: {
    displayName: 'batchdrop: a blob event was not delivered'
    description: 'Event Grid could not deliver a BlobCreated event to the blob trigger: it is in the dead-letter container (DeadLetteredCount) or was dropped (DroppedEventCount, check the system topic identity\'s role on that container). The poll timer\'s sweep still finds the file.'
    severity: 2
    enabled: true
    scopes: [
      logAnalyticsWorkspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: undeliveredQuery
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
    actions: logAlertActions
  }
}

resource failedJobsAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-failed-jobs'
  location: location
  tags: tags
  properties: {
    displayName: 'batchdrop: a job failed'
    description: 'A job ended failed: Azure OpenAI refused a batch, a batch disappeared, or quota never freed up. The results name the job, its input and its last error; summary.json and errors.jsonl next to the outputs say more.'
    severity: 2
    enabled: true
    scopes: [
      logAnalyticsWorkspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: failedJobsQuery
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
    actions: logAlertActions
  }
}

// The poll timer finds lost events, advances every job and raises stuck ones: if it stops,
// nothing moves and no other alert would say so.
resource pollerStoppedAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-poller-stopped'
  location: location
  tags: tags
  properties: {
    displayName: 'batchdrop: the poller is not running'
    description: 'No poll tick reached Application Insights in the window: the poll_batches timer is not running (the app is stopped, failing to start, or POLL_SCHEDULE is wrong). Jobs do not advance until it runs. Look at the function app\'s Log stream and Application Insights > Failures.'
    severity: 1
    enabled: true
    scopes: [
      logAnalyticsWorkspaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: pollerSilence
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: pollerQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'ticks'
          operator: 'LessThan'
          threshold: 1
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: logAlertActions
  }
}

output actionGroupId string = actionGroup.id
