// The Azure ML registry shared by every environment. A model is registered here once and the
// very same version is deployed to dev, uat and prod, instead of being retrained or copied per
// workspace. scripts/bootstrap.py deploys it once, in its own resource group, before the
// environments (infra/main.bicep).
//
// Why it looks the way it does:
// - One region only: the registry replicates to the regions listed in regionDetails, and every
//   environment lives in `location`. Add a region entry to serve workspaces elsewhere.
// - Azure ML creates and manages the registry's own storage account and container registry
//   (system-created) in a managed resource group, so there is nothing else to deploy or name.
//   Registries need a Premium container registry; blobs are never public.
// - Public network access stays enabled (authenticated with Entra ID), like the workspaces.

@description('Primary region of the registry (environments.toml: location).')
param location string = resourceGroup().location

@description('Azure ML registry name, 3-33 characters (environments.toml: shared.registry).')
@minLength(3)
@maxLength(33)
param registryName string

@description('Tags on the registry.')
param tags object = {
  workload: registryName
  'managed-by': 'bicep'
}

resource registry 'Microsoft.MachineLearningServices/registries@2025-12-01' = {
  name: registryName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    publicNetworkAccess: 'Enabled'
    regionDetails: [
      {
        location: location
        acrDetails: [
          {
            systemCreatedAcrAccount: {
              acrAccountSku: 'Premium'
            }
          }
        ]
        storageAccountDetails: [
          {
            systemCreatedStorageAccount: {
              storageAccountType: 'Standard_LRS'
              storageAccountHnsEnabled: false
              allowBlobPublicAccess: false
            }
          }
        ]
      }
    ]
  }
}

@description('Azure ML registry name, for `az ml ... --registry-name`.')
output registryName string = registry.name

@description('Principal of the registry identity.')
output registryPrincipalId string = registry.identity.principalId
