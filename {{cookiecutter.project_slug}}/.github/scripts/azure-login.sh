#!/usr/bin/env bash
# Log in to Azure again with a fresh GitHub OIDC token.
#
# The token that azure/login exchanges is valid for about ten minutes and the Azure CLI cannot
# renew it (AADSTS700024), so a step that outlives it (waiting for a training job, a slow
# deployment) calls this first. It needs `permissions: id-token: write` and AZURE_CLIENT_ID,
# AZURE_TENANT_ID and AZURE_SUBSCRIPTION_ID in the environment; no secret is involved.
set -euo pipefail

: "${ACTIONS_ID_TOKEN_REQUEST_URL:?the job needs permissions: id-token: write}"
: "${ACTIONS_ID_TOKEN_REQUEST_TOKEN:?the job needs permissions: id-token: write}"
: "${AZURE_CLIENT_ID:?}" "${AZURE_TENANT_ID:?}" "${AZURE_SUBSCRIPTION_ID:?}"
token=$(curl --fail --silent --show-error \
  --header "Authorization: Bearer ${ACTIONS_ID_TOKEN_REQUEST_TOKEN}" \
  "${ACTIONS_ID_TOKEN_REQUEST_URL}&audience=api://AzureADTokenExchange" | jq --raw-output .value)
echo "::add-mask::${token}"
az login --service-principal --username "${AZURE_CLIENT_ID}" --tenant "${AZURE_TENANT_ID}" \
  --federated-token "${token}" --output none
az account set --subscription "${AZURE_SUBSCRIPTION_ID}"
