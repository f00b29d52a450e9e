#!/usr/bin/env bash
# Train once, in dev: the Azure ML pipeline (azureml/pipeline.yml) prepares the data, trains,
# and registers behind the gate (`register`); then read the gate's outcome. A candidate that
# fails the gate, or no champion at all, fails the release. A new champion's training set
# becomes the data asset <model>-reference:<version>, the reference of drift checks.
#
# Needs AZURE_RESOURCE_GROUP and AZUREML_WORKSPACE (dev's); outputs model_name, model_version.
set -euo pipefail
here="$(dirname "$0")"
# shellcheck source=scripts/release/lib.sh
source "${here}/lib.sh"

azureml_defaults
# New versions only when they changed.
az ml environment create --file azureml/environment.yml
az ml data create --file azureml/data.yml

code=$(code_version)
job=$(az ml job create --file azureml/pipeline.yml --set tags.code_version="${code}" \
  --query name --output tsv)
summary "Pipeline job: \`${job}\` (code ${code})"
"${here}/azureml-wait.sh" "${job}"

az ml job download --name "${job}" --output-name registration --download-path outcome
file=$(find outcome -name registration.json | head -n 1)
test -n "${file}" || fail "the pipeline wrote no registration.json"
jq . "${file}"
name=$(jq -r .model_name "${file}")
version=$(jq -r '.champion_version // empty' "${file}")
test -n "${version}" || fail "no champion after the gate: nothing to deploy"
verdict=$(jq -r .verdict "${file}")
summary "Gate: ${verdict}; champion ${name}:${version}"
emit model_name "${name}"
emit model_version "${version}"

new_champion=$(jq -r .new_champion "${file}")
if [[ "${new_champion}" == true ]]; then
  # The curated layer of this pipeline run: what the model monitor and the drift check compare
  # production data with.
  reference="${name}-reference"
  prepare=$(az ml job list --parent-job-name "${job}" \
    --query "[?display_name=='prepare'].name | [0]" --output tsv)
  curated=$(az ml job show --name "${prepare}" --query outputs.curated_dir.path --output tsv)
  if ! az ml data show --name "${reference}" --version "${version}" --output none 2>/dev/null; then
    az ml data create --name "${reference}" --version "${version}" --type mltable \
      --path "${curated}" --description "Training set of the champion, from pipeline job ${job}"
  fi
fi
