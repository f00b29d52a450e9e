#!/usr/bin/env bash
# Share the champion from the dev workspace to the Azure ML registry, name and version
# unchanged, once (a re-run finds it there): uat and prod deploy exactly this model.
#
# Needs AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE (dev's), AZUREML_REGISTRY, MODEL_NAME,
# MODEL_VERSION.
set -euo pipefail
# shellcheck source=scripts/release/lib.sh
source "$(dirname "$0")/lib.sh"
: "${AZUREML_REGISTRY:?}" "${MODEL_NAME:?}" "${MODEL_VERSION:?}"

az extension add --name ml --upgrade --yes
if az ml model show --name "${MODEL_NAME}" --version "${MODEL_VERSION}" \
  --registry-name "${AZUREML_REGISTRY}" --output none 2>/dev/null; then
  echo "${MODEL_NAME}:${MODEL_VERSION} is already in ${AZUREML_REGISTRY}"
else
  az ml model share --name "${MODEL_NAME}" --version "${MODEL_VERSION}" \
    --resource-group "${AZURE_RESOURCE_GROUP}" --workspace-name "${AZUREML_WORKSPACE}" \
    --registry-name "${AZUREML_REGISTRY}" \
    --share-with-name "${MODEL_NAME}" --share-with-version "${MODEL_VERSION}"
fi
summary "Promoted \`azureml://registries/${AZUREML_REGISTRY}/models/${MODEL_NAME}/versions/${MODEL_VERSION}\`"
