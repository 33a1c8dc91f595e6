// The Flex Consumption plan and the Python function app. Every connection is identity-based:
// the app's user-assigned identity reads the deployment package, talks to the host storage,
// sends telemetry and calls Azure OpenAI; no app setting holds a key.

@description('Required. Function app name.')
param name string

@description('Required. Flex Consumption plan name.')
param planName string

@description('Required. Azure region.')
param location string

@description('Optional. Tags for the plan and the app (the app also gets azd-service-name).')
param tags object = {}

@description('Required. azd service name from azure.yaml.')
param serviceName string

@description('Optional. Python version of the Flex Consumption runtime (functionAppConfig.runtime); the app is built for 3.13.')
@allowed([
  '3.13'
])
param pythonVersion string = '3.13'

@description('Optional. Spread the plan\'s instances over availability zones (only in regions that offer zone-redundant Flex Consumption; keeps at least two always-ready instances, which are billed).')
param zoneRedundant bool = false

@description('Optional. Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Optional. Most instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Required. Resource id of the user-assigned identity.')
param identityId string

@description('Required. Client id of the user-assigned identity.')
param identityClientId string

@description('Required. Storage account name.')
param storageAccountName string

@description('Required. Blob endpoint of the storage account, with a trailing slash.')
param blobEndpoint string

@description('Required. Queue endpoint of the storage account, with a trailing slash.')
param queueEndpoint string

@description('Required. Table endpoint of the storage account, with a trailing slash.')
param tableEndpoint string

@description('Required. Container that holds the deployment package.')
param deploymentContainerName string

@description('Required. Application Insights component name.')
param applicationInsightsName string

@description('Required. Azure OpenAI endpoint, e.g. https://name.openai.azure.com/.')
param openAiEndpoint string

@description('Required. Default Global-Batch deployment name.')
param openAiDeployment string

@description('Optional. Dated Azure OpenAI API version; empty uses the v1 API.')
param openAiApiVersion string = ''

@description('Required. Container users drop files into.')
param inputContainerName string

@description('Required. Container results go to.')
param outputContainerName string

@description('Required. Internal work container.')
param workContainerName string

@description('Required. Jobs table.')
param jobsTableName string

@description('Required. Completion queue.')
param completionQueueName string

@description('Optional. NCRONTAB schedule (six fields) of the poller.')
param pollSchedule string = '0 */1 * * * *'

@description('Optional. Most requests per batch file before a file is split.')
param maxRequests string = '100000'

@description('Optional. Most bytes per batch file before a file is split.')
param maxBytes string = '200000000'

@description('Optional. Most requests one input file may hold; a bigger file is rejected (bounds memory).')
param maxFileRequests string = '2000000'

@description('Optional. Tries per request in all (first try plus retries).')
param maxAttempts string = '3'

@description('Optional. Comma-separated deployments input lines may name; empty allows any.')
param allowedDeployments string = ''

@description('Optional. Most estimated input tokens per batch before a file is split (keep it under the deployment\'s enqueued-token quota); 0 means no limit.')
param maxTokens string = '0'

@description('Optional. Seconds to wait for an uploaded file to be processed.')
param fileWaitSeconds string = '20'

@description('Optional. Timeout in seconds of one call to Azure OpenAI.')
param openAiTimeoutSeconds string = '60'

@description('Optional. Least seconds between two status calls for one batch (Azure asks for about one a minute).')
param statusMinSeconds string = '55'

@description('Optional. First wait, in seconds, after the enqueued-token quota refuses a batch; doubles each time up to an hour.')
param quotaBackoffSeconds string = '300'

@description('Optional. Hours a part may wait for quota before its requests are reported failed.')
param quotaDeadlineHours string = '24'

@description('Optional. Seconds an uploaded file may stay pending before it is uploaded once more.')
param fileDeadlineSeconds string = '1800'

@description('Optional. Open jobs advanced in parallel by one poll tick.')
param pollConcurrency string = '16'

@description('Optional. Seconds one poll tick may run; jobs not reached wait for the next tick.')
param pollBudgetSeconds string = '240'

@description('Optional. Seconds a worker holds a job while acting on it; after a crash the job is picked up again once this runs out.')
param leaseSeconds string = '900'

@description('Optional. Hours after which a job still open is logged as stuck (and the alert fires).')
param stuckHours string = '48'

@description('Optional. BATCH_CONFIG_WAIT_HOURS: how long a job waits for a wrong setting (key, endpoint, role, container) to be fixed before it fails; keep it under the 14 days Azure OpenAI keeps the files.')
param configWaitHours string = '168'

@description('Optional. BATCH_CLOCK_SKEW_SECONDS: how far apart worker clocks may be before a lapsed lease is taken over.')
param clockSkewSeconds string = '60'

@description('Optional. BATCH_MAX_STEP_FAILURES: failures of one step in a row before a job ends failed.')
param maxStepFailures string = '5'

@description('Optional. Price table for cost estimates (BATCH_PRICES): JSON {"model": {"input", "output", "batch_input", "batch_output"}} in USD per 1M tokens, over the example prices in shared/costs.py; empty uses the examples.')
param prices string = ''

@description('Optional. Seconds a freshly uploaded input waits for a _job.json uploaded together with it.')
param settleSeconds string = '5'

@description('Optional. Identical content (same bytes and job settings) that completed this many hours ago or less is not sent again; 0 always sends it.')
param duplicateHours string = '24'

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    //checkov:skip=CKV_AZURE_225: zone redundancy is the zoneRedundant parameter: only some regions offer it on Flex Consumption (az functionapp list-flexconsumption-locations --zone-redundant=true) and it bills two always-ready instances, so it is off by default.
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    //checkov:skip=CKV_AZURE_222: Event Grid delivers blob events to the app's public webhook and users call the HTTP API; every function requires a key (function auth level, blobs_extension system key).
    publicNetworkAccess: 'Enabled'
    //checkov:skip=CKV_AZURE_17: Event Grid webhook delivery cannot present a client certificate; the HTTP API authenticates with function keys.
    //checkov:skip=CKV_AZURE_78: Flex Consumption rejects siteConfig.ftpsState ("site configuration properties (Site.SiteConfig.FtpsState, ...) for Flex Consumption sites is invalid", ARM error 51021); it has no FTP deployment, and the ftp basicPublishingCredentialsPolicies resource below sets allow: false.
    clientCertEnabled: false
    siteConfig: {
      // Every setting shared/config.py reads, plus the identity-based host storage connection.
      // AZURE_OPENAI_API_KEY is deliberately absent: in Azure the app authenticates with its identity.
      appSettings: [
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storageAccountName
        }
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: blobEndpoint
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: queueEndpoint
        }
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: tableEndpoint
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identityClientId};Authorization=AAD'
        }
        {
          // The Python worker runs the Azure Monitor distro and streams the app's logs, events
          // and metrics itself, which prevents duplicate host-level log entries (host.json has
          // telemetryMode OpenTelemetry; "Use OpenTelemetry with Azure Functions").
          name: 'PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY'
          value: 'true'
        }
        {
          name: 'AZURE_OPENAI_ENDPOINT'
          value: openAiEndpoint
        }
        {
          name: 'AZURE_OPENAI_API_VERSION'
          value: openAiApiVersion
        }
        {
          name: 'AZURE_OPENAI_DEPLOYMENT'
          value: openAiDeployment
        }
        {
          name: 'BATCH_INPUT_CONTAINER'
          value: inputContainerName
        }
        {
          name: 'BATCH_OUTPUT_CONTAINER'
          value: outputContainerName
        }
        {
          name: 'BATCH_WORK_CONTAINER'
          value: workContainerName
        }
        {
          name: 'BATCH_JOBS_TABLE'
          value: jobsTableName
        }
        {
          name: 'BATCH_COMPLETION_QUEUE'
          value: completionQueueName
        }
        {
          name: 'POLL_SCHEDULE'
          value: pollSchedule
        }
        {
          name: 'BATCH_MAX_REQUESTS'
          value: maxRequests
        }
        {
          name: 'BATCH_MAX_BYTES'
          value: maxBytes
        }
        {
          name: 'BATCH_MAX_FILE_REQUESTS'
          value: maxFileRequests
        }
        {
          name: 'BATCH_MAX_ATTEMPTS'
          value: maxAttempts
        }
        {
          name: 'BATCH_ALLOWED_DEPLOYMENTS'
          value: allowedDeployments
        }
        {
          name: 'BATCH_MAX_TOKENS'
          value: maxTokens
        }
        {
          name: 'BATCH_FILE_WAIT_SECONDS'
          value: fileWaitSeconds
        }
        {
          name: 'AZURE_OPENAI_TIMEOUT_SECONDS'
          value: openAiTimeoutSeconds
        }
        {
          name: 'BATCH_STATUS_MIN_SECONDS'
          value: statusMinSeconds
        }
        {
          name: 'BATCH_QUOTA_BACKOFF_SECONDS'
          value: quotaBackoffSeconds
        }
        {
          name: 'BATCH_QUOTA_DEADLINE_HOURS'
          value: quotaDeadlineHours
        }
        {
          name: 'BATCH_FILE_DEADLINE_SECONDS'
          value: fileDeadlineSeconds
        }
        {
          name: 'BATCH_POLL_CONCURRENCY'
          value: pollConcurrency
        }
        {
          name: 'BATCH_POLL_BUDGET_SECONDS'
          value: pollBudgetSeconds
        }
        {
          name: 'BATCH_LEASE_SECONDS'
          value: leaseSeconds
        }
        {
          name: 'BATCH_STUCK_HOURS'
          value: stuckHours
        }
        {
          name: 'BATCH_CONFIG_WAIT_HOURS'
          value: configWaitHours
        }
        {
          name: 'BATCH_CLOCK_SKEW_SECONDS'
          value: clockSkewSeconds
        }
        {
          name: 'BATCH_MAX_STEP_FAILURES'
          value: maxStepFailures
        }
        {
          name: 'BATCH_PRICES'
          value: prices
        }
        {
          name: 'BATCH_SETTLE_SECONDS'
          value: settleSeconds
        }
        {
          name: 'BATCH_DUPLICATE_HOURS'
          value: duplicateHours
        }
      ]
      // No ftpsState: Flex Consumption rejects siteConfig.ftpsState (ARM error 51021, see the
      // skip of CKV_AZURE_78 above); FTP is off through the ftp publishing-credentials policy.
      http20Enabled: true
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      cors: {
        allowedOrigins: [
          'https://portal.azure.com'
        ]
      }
    }
    //checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero and replaces failed instances itself; always-ready instances would bill around the clock.
    //checkov:skip=CKV_AZURE_213: App Service health checks do not apply to Flex Consumption; the Functions host is monitored by the platform and Application Insights.
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// azd deploys with an Entra ID token; basic (user/password) publishing stays off.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

output id string = functionApp.id
output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
