#!/usr/bin/env bash
# Deploy one model version and one serving image to one environment, blue/green, one phase per
# call (one step each in the pipeline's log), in this order:
#   prepare       the names: image, model URI (the version promoted to the registry), deployment
#   import-image  the image the environment before tested, imported by digest (not in the first)
#   endpoint      the online endpoint, created once and kept across releases
#   create        a new deployment with no traffic (level 2: with data collection merged in)
#   smoke         the smoke test, straight to the new deployment, before any traffic moves
#   canary        CANARY_PERCENT of the traffic, the smoke test through the endpoint, and all
#                 traffic back on the old deployment if it fails (nothing to do when 0)
#   traffic       all traffic to the new deployment
#   cleanup       the old deployments deleted
#   rollback      after a failure: the new deployment removed if it holds no traffic
#   monitor       (level 2, prod) the Azure ML model monitor pointed at the new deployment
#   batch         the batch endpoint and its deployment of the same model
#
# Needs the environment's AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE, AZUREML_REGISTRY,
# AZURE_CONTAINER_REGISTRY, AZUREML_ONLINE_ENDPOINT, AZUREML_BATCH_ENDPOINT, AZURE_SUBSCRIPTION_ID,
# and MODEL_NAME, MODEL_VERSION, IMAGE_TAG; SOURCE_REGISTRY (empty in the first environment) and
# CANARY_PERCENT (0 when unset).
set -euo pipefail
here="$(dirname "$0")"
# shellcheck source=scripts/release/lib.sh
source "${here}/lib.sh"
endpoint=${AZUREML_ONLINE_ENDPOINT:?}

prepare() {
  : "${AZURE_CONTAINER_REGISTRY:?}" "${AZUREML_REGISTRY:?}" "${MODEL_NAME:?}" "${MODEL_VERSION:?}"
  azureml_defaults
  local name run
  name=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["name"])')
  run=$(run_id)
  IMAGE_REPOSITORY="${name}:${IMAGE_TAG:?}"
  IMAGE="${AZURE_CONTAINER_REGISTRY}.azurecr.io/${IMAGE_REPOSITORY}"
  MODEL="azureml://registries/${AZUREML_REGISTRY}/models/${MODEL_NAME}/versions/${MODEL_VERSION}"
  DEPLOYMENT="v${MODEL_VERSION}-r${run}"
  # The later phases run as later steps: they read these from the job's environment.
  export_var IMAGE "${IMAGE}"
  export_var IMAGE_REPOSITORY "${IMAGE_REPOSITORY}"
  export_var MODEL "${MODEL}"
  export_var DEPLOYMENT "${DEPLOYMENT}"
}

import_image() {
  if [[ -z "${SOURCE_REGISTRY:-}" || "${SOURCE_REGISTRY}" == "${AZURE_CONTAINER_REGISTRY}" ]]; then
    echo "The image is already in ${AZURE_CONTAINER_REGISTRY}: nothing to import"
    return
  fi
  az acr import --name "${AZURE_CONTAINER_REGISTRY}" --force \
    --source "${SOURCE_REGISTRY}.azurecr.io/${IMAGE_REPOSITORY}" --image "${IMAGE_REPOSITORY}"
  local source here_digest
  source=$(az acr repository show --name "${SOURCE_REGISTRY}" --image "${IMAGE_REPOSITORY}" --query digest --output tsv)
  here_digest=$(az acr repository show --name "${AZURE_CONTAINER_REGISTRY}" --image "${IMAGE_REPOSITORY}" --query digest --output tsv)
  test "${source}" = "${here_digest}" || fail "digest ${here_digest} differs from ${source}"
  summary "Image \`${IMAGE}\` (${here_digest})"
}

endpoint() {
  if ! az ml online-endpoint show --name "${endpoint}" --output none 2>/dev/null; then
    az ml online-endpoint create --file azureml/deploy/online-endpoint.yml --name "${endpoint}"
  fi
  az ml online-endpoint show --name "${endpoint}" --query traffic --output json
}

create() {
  local spec=azureml/deploy/online-deployment.yml merged
  # Level 2: data collection for model monitoring, merged in (mikefarah's yq, as on GitHub's
  # and Azure Pipelines' Ubuntu images).
  if [[ -f azureml/monitoring/data-collection.yml ]]; then
    merged="${RUNNER_TEMP:-${AGENT_TEMPDIRECTORY:-/tmp}}/online-deployment.yml"
    yq eval-all 'select(fileIndex == 0) * select(fileIndex == 1)' "${spec}" \
      azureml/monitoring/data-collection.yml >"${merged}"
    spec=${merged}
  fi
  az ml online-deployment create --file "${spec}" \
    --name "${DEPLOYMENT}" --endpoint-name "${endpoint}" \
    --set model="${MODEL}" environment.image="${IMAGE}"
}

smoke() {
  "${here}/azure-login.sh"
  "${here}/smoke-test.sh" "${endpoint}" \
    --deployment "${DEPLOYMENT}" --expect-version "${MODEL_VERSION}" --attempts 5
}

canary() {
  local percent=${CANARY_PERCENT:-0} current
  if ((percent <= 0)); then
    echo "No canary in this environment"
    return
  fi
  local traffic
  traffic=$(az ml online-endpoint show --name "${endpoint}" --query traffic --output json)
  current=$(jq -r 'to_entries | map(select(.value > 0)) | max_by(.value) | .key // empty' <<<"${traffic}")
  if [[ -z "${current}" ]]; then
    echo "No deployment has traffic yet: no canary needed"
    return
  fi
  az ml online-endpoint update --name "${endpoint}" \
    --traffic "${current}=$((100 - percent)) ${DEPLOYMENT}=${percent}"
  # Both versions answer now; each answer must be right, whichever deployment gave it.
  if ! "${here}/smoke-test.sh" "${endpoint}" --attempts 50; then
    az ml online-endpoint update --name "${endpoint}" --traffic "${current}=100 ${DEPLOYMENT}=0"
    fail "the canary failed: all traffic is back on ${current}"
  fi
}

traffic() {
  az ml online-endpoint update --name "${endpoint}" --traffic "${DEPLOYMENT}=100"
  summary "\`${endpoint}\`: 100% on \`${DEPLOYMENT}\` (${MODEL})"
}

cleanup() {
  local old
  old=$(az ml online-deployment list --endpoint-name "${endpoint}" \
    --query "[?name!='${DEPLOYMENT}'].name" --output tsv)
  for name in ${old}; do
    az ml online-deployment delete --name "${name}" --endpoint-name "${endpoint}" --yes --no-wait
  done
}

rollback() {
  "${here}/azure-login.sh"
  local traffic share
  traffic=$(az ml online-endpoint show --name "${endpoint}" --query traffic --output json)
  share=$(jq -r --arg name "${DEPLOYMENT}" '.[$name] // 0' <<<"${traffic}")
  if [[ "${share}" == "0" ]]; then
    az ml online-deployment delete --name "${DEPLOYMENT}" --endpoint-name "${endpoint}" --yes --no-wait || true
  else
    warn "${DEPLOYMENT} holds ${share}% of the traffic: left in place"
  fi
}

monitor() {
  if [[ ! -f azureml/monitoring/monitor.yml ]]; then
    echo "No model monitor at this level"
    return
  fi
  "${here}/azure-login.sh"
  az ml schedule create --file azureml/monitoring/monitor.yml \
    --set create_monitor.monitoring_target.endpoint_deployment_id="azureml:${endpoint}:${DEPLOYMENT}"
}

batch() {
  local batch_endpoint=${AZUREML_BATCH_ENDPOINT:?} verb
  "${here}/azure-login.sh"
  az ml environment create --file azureml/environment.yml
  if ! az ml batch-endpoint show --name "${batch_endpoint}" --output none 2>/dev/null; then
    az ml batch-endpoint create --file azureml/deploy/batch-endpoint.yml --name "${batch_endpoint}"
  fi
  if az ml batch-deployment show --name score --endpoint-name "${batch_endpoint}" --output none 2>/dev/null; then
    verb=update
  else
    verb=create
  fi
  az ml batch-deployment "${verb}" --file azureml/deploy/batch-deployment.yml \
    --endpoint-name "${batch_endpoint}" --set model="${MODEL}"
  az ml batch-endpoint update --name "${batch_endpoint}" --set defaults.deployment_name=score
}

case "${1:-}" in
  prepare | endpoint | create | smoke | canary | traffic | cleanup | rollback | monitor | batch) "$1" ;;
  import-image) import_image ;;
  *) fail "usage: deploy.sh prepare|import-image|endpoint|create|smoke|canary|traffic|cleanup|rollback|monitor|batch" ;;
esac
