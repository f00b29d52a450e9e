// One environment (dev, uat or prod): an Azure ML workspace and everything it needs.
// scripts/bootstrap.py deploys it once per environment, passing the names from
// infra/environments.toml, so the names live in one place and redeploying is idempotent.
//
// Why it looks the way it does:
// - Data goes to an ADLS Gen2 account with three containers, one per layer of the project
//   (raw, refined, curated), each registered as a datastore of the same name, so jobs read
//   `azureml://datastores/raw/paths/...` in every environment.
// - Those datastores store no credentials: the workspace identity (studio preview) and the
//   compute cluster identity (jobs) read and write through Storage Blob Data Contributor.
// - Shared-key access stays ON by default. Azure ML can run on a storage account without shared
//   keys (systemDatastoresAuthMode Identity), but Microsoft still calls that a preview, and batch
//   endpoints (parallel run step) and models as job inputs then need an extra user-assigned
//   identity with more roles. Set allowSharedKeyAccess=false to try it: the workspace switches to
//   identity-based access to its system datastores at the same time.
// - The container registry is ours (admin user disabled) rather than one Azure ML would create
//   with the admin user enabled; Azure ML then builds and pulls images with managed identities.
// - Names that must be unique across Azure come from environments.toml; only the Key Vault name,
//   which nobody types, is derived with uniqueString so it stays stable between deployments.
// - The cluster must match azureml/compute.yml, so `az ml compute create` and this file agree.
// - The network stays public (authenticated). Private endpoints are a later step.

@description('Region of every resource.')
param location string = resourceGroup().location

@description('Azure ML workspace name (environments.toml: workspace).')
@minLength(3)
@maxLength(33)
param workspaceName string

@description('ADLS Gen2 storage account name, 3-24 lowercase letters and digits (environments.toml: storage_account).')
@minLength(3)
@maxLength(24)
param storageAccountName string

@description('Container registry name, 5-50 letters and digits (environments.toml: container_registry).')
@minLength(5)
@maxLength(50)
param containerRegistryName string

@description('Basic holds 10 GiB of images, Standard 100 GiB; Premium-only features are not used.')
@allowed([
  'Basic'
  'Standard'
])
param containerRegistrySku string = 'Standard'

@description('Replication of the data lake; Standard_ZRS or Standard_GRS for production data.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_RAGRS'
])
param storageSkuName string = 'Standard_LRS'

@description('false: Entra ID only on the storage account (preview in Azure ML, see the header).')
param allowSharedKeyAccess bool = true

@description('Tags on every resource that takes tags.')
param tags object = {
  workload: workspaceName
  'managed-by': 'bicep'
}

// The data layers: one container and one datastore each.
var layers = [
  'raw'
  'refined'
  'curated'
]

// Built-in role: read, write and delete blobs and containers.
var storageBlobDataContributor = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')

// Key Vault names are global and 3-24 characters: 'kv-' + 13 characters = 16.
var keyVaultName = 'kv-${uniqueString(resourceGroup().id, workspaceName)}'

resource storage 'Microsoft.Storage/storageAccounts@2026-09-01' = {
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: storageSkuName
  }
  properties: {
    isHnsEnabled: true
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: allowSharedKeyAccess
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    publicNetworkAccess: 'Enabled'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2026-09-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-09-01' = [
  for layer in layers: {
    parent: blobService
    name: layer
    properties: {
      publicAccess: 'None'
    }
  }
]

resource keyVault 'Microsoft.KeyVault/vaults@2026-05-15' = {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    // Purge protection cannot be turned off again: a deleted vault keeps its name for the 7 days.
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2025-07-01' = {
  name: 'log-${workspaceName}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
    features: {
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

// Workspace-based: endpoint telemetry lands in the Log Analytics workspace above. Local auth
// stays on because Azure ML deployments send telemetry with the connection string.
resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${workspaceName}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    IngestionMode: 'LogAnalytics'
  }
}

resource containerRegistry 'Microsoft.ContainerRegistry/registries@2025-04-01' = {
  name: containerRegistryName
  location: location
  tags: tags
  sku: {
    name: containerRegistrySku
  }
  properties: {
    adminUserEnabled: false
    anonymousPullEnabled: false
    publicNetworkAccess: 'Enabled'
  }
}

resource workspace 'Microsoft.MachineLearningServices/workspaces@2025-12-01' = {
  name: workspaceName
  location: location
  tags: tags
  kind: 'Default'
  sku: {
    name: 'Basic'
    tier: 'Basic'
  }
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    friendlyName: workspaceName
    storageAccount: storage.id
    keyVault: keyVault.id
    applicationInsights: appInsights.id
    containerRegistry: containerRegistry.id
    publicNetworkAccess: 'Enabled'
    systemDatastoresAuthMode: allowSharedKeyAccess ? 'AccessKey' : 'Identity'
    v1LegacyMode: false
  }
}

resource workspaceDataAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, workspace.id, storageBlobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: storageBlobDataContributor
    principalId: workspace.identity.principalId
    principalType: 'ServicePrincipal'
    description: 'Azure ML workspace: identity-based datastores (studio data preview).'
  }
}

// No SSH and no local keys; it scales to zero after 15 minutes idle, so it costs nothing between
// runs. Its identity is what jobs use to read the identity-based datastores.
resource cluster 'Microsoft.MachineLearningServices/workspaces/computes@2025-12-01' = {
  parent: workspace
  name: 'cpu-cluster'
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    computeType: 'AmlCompute'
    description: 'CPU training cluster (azureml/compute.yml).'
    disableLocalAuth: true
    properties: {
      vmSize: 'Standard_DS3_v2'
      vmPriority: 'Dedicated'
      osType: 'Linux'
      remoteLoginPortPublicAccess: 'Disabled'
      scaleSettings: {
        minNodeCount: 0
        maxNodeCount: 2
        nodeIdleTimeBeforeScaleDown: 'PT15M'
      }
    }
  }
}

resource clusterDataAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, cluster.id, storageBlobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: storageBlobDataContributor
    principalId: cluster.identity.principalId
    principalType: 'ServicePrincipal'
    description: 'Azure ML cpu-cluster: jobs read and write the data layers.'
  }
}

resource datastores 'Microsoft.MachineLearningServices/workspaces/datastores@2025-12-01' = [
  for (layer, i) in layers: {
    parent: workspace
    name: layer
    properties: {
      datastoreType: 'AzureDataLakeGen2'
      description: 'The ${layer} data layer.'
      accountName: storage.name
      filesystem: containers[i].name
      endpoint: environment().suffixes.storage
      protocol: 'https'
      credentials: {
        credentialsType: 'None'
      }
      serviceDataAccessAuthIdentity: 'WorkspaceSystemAssignedIdentity'
      tags: tags
    }
    dependsOn: [
      workspaceDataAccess
    ]
  }
]

@description('Azure ML workspace name, for `az ml ... -w`.')
output workspaceName string = workspace.name

@description('Principal of the workspace identity, to grant it more roles (the shared registry).')
output workspacePrincipalId string = workspace.identity.principalId

@description('Principal of the cpu-cluster identity.')
output computePrincipalId string = cluster.identity.principalId

@description('Login server of the container registry, for docker push and pull.')
output containerRegistryLoginServer string = containerRegistry.properties.loginServer

@description('Storage account of the data lake.')
output storageAccountName string = storage.name

@description('The datastores, one per data layer.')
output datastoreNames array = [for i in range(0, length(layers)): datastores[i].name]

@description('Application Insights resource ID, for endpoint telemetry.')
output applicationInsightsId string = appInsights.id

@description('Key Vault name (RBAC authorization).')
output keyVaultName string = keyVault.name
