#!/usr/bin/env bash
# Log in to Azure again with a fresh federated (OIDC) token from the CI platform.
#
# The token a job logs in with is valid for about ten minutes and the Azure CLI cannot renew it
# (AADSTS700024), so a step that outlives it (waiting for a training job, a slow deployment)
# calls this first. No secret is involved:
# - GitHub Actions: the job needs `permissions: id-token: write`, and AZURE_CLIENT_ID,
#   AZURE_TENANT_ID and AZURE_SUBSCRIPTION_ID in the environment;
# - Azure Pipelines: inside an AzureCLI@2 step of a workload identity federation service
#   connection (which sets AZURESUBSCRIPTION_*), with SYSTEM_ACCESSTOKEN mapped into the step's
#   environment and AZURE_SUBSCRIPTION_ID from the environment's variable group.
set -euo pipefail
# shellcheck source=scripts/release/lib.sh
source "$(dirname "$0")/lib.sh"

: "${AZURE_SUBSCRIPTION_ID:?}"
if [[ -n "${TF_BUILD:-}" ]]; then
  : "${SYSTEM_OIDCREQUESTURI:?}" "${SYSTEM_ACCESSTOKEN:?map System.AccessToken into the step}"
  : "${AZURESUBSCRIPTION_SERVICE_CONNECTION_ID:?run it in an AzureCLI@2 step}"
  client_id=${AZURESUBSCRIPTION_CLIENT_ID:?}
  tenant_id=${AZURESUBSCRIPTION_TENANT_ID:?}
  token=$(curl --fail --silent --show-error --request POST --header "Content-Length: 0" \
    --header "Authorization: Bearer ${SYSTEM_ACCESSTOKEN}" \
    "${SYSTEM_OIDCREQUESTURI}?api-version=7.1&serviceConnectionId=${AZURESUBSCRIPTION_SERVICE_CONNECTION_ID}" |
    jq --raw-output .oidcToken)
else
  : "${ACTIONS_ID_TOKEN_REQUEST_URL:?the job needs permissions: id-token: write}"
  : "${ACTIONS_ID_TOKEN_REQUEST_TOKEN:?the job needs permissions: id-token: write}"
  client_id=${AZURE_CLIENT_ID:?}
  tenant_id=${AZURE_TENANT_ID:?}
  token=$(curl --fail --silent --show-error \
    --header "Authorization: Bearer ${ACTIONS_ID_TOKEN_REQUEST_TOKEN}" \
    "${ACTIONS_ID_TOKEN_REQUEST_URL}&audience=api://AzureADTokenExchange" | jq --raw-output .value)
fi
mask "${token}"
az login --service-principal --username "${client_id}" --tenant "${tenant_id}" \
  --federated-token "${token}" --output none
az account set --subscription "${AZURE_SUBSCRIPTION_ID}"
