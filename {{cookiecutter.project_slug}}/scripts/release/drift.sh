#!/usr/bin/env bash
# The weekly drift check (level 2): `drift`, then `should-retrain`, as the Azure ML job of
# azureml/monitoring/drift-job.yml on the last WINDOW_DAYS of what the watched environment's
# online endpoint collected; the reports land in report/ (drift.json, drift.html,
# decision.json, summary.md) and the answer is the output `retrain` (true or false).
#
# Needs the watched environment's AZURE_RESOURCE_GROUP, AZUREML_WORKSPACE,
# AZUREML_ONLINE_ENDPOINT and AZURE_SUBSCRIPTION_ID; WINDOW_DAYS (7 when unset).
set -euo pipefail
here="$(dirname "$0")"
# shellcheck source=scripts/release/lib.sh
source "${here}/lib.sh"
window=${WINDOW_DAYS:-7}

azureml_defaults
collected="azureml://datastores/workspaceblobstore/paths/modelDataCollector/${AZUREML_ONLINE_ENDPOINT:?}/"
job=$(az ml job create --file azureml/monitoring/drift-job.yml \
  --set inputs.window_days="${window}" inputs.collected.path="${collected}" \
  --query name --output tsv)
"${here}/azureml-wait.sh" "${job}"

az ml job download --name "${job}" --output-name report --download-path downloaded
mkdir -p report
for file in drift.json drift.html decision.json; do
  found=$(find downloaded -name "${file}" | head -n 1)
  test -n "${found}" || fail "the drift job wrote no ${file}"
  cp "${found}" report/
done

retrain=$(jq -r .retrain report/decision.json)
verdict=$(jq -r .verdict report/drift.json)
explanation=$(jq -r .explanation report/drift.json)
{
  echo "## Drift of the last ${window} days"
  echo
  echo "Verdict: **${verdict}**: ${explanation}"
  echo
  echo "Retrain: **${retrain}**"
  jq -r '.reasons[] | "- " + .' report/decision.json
  echo
  echo "Full report: drift.html among this run's artifacts."
} >report/summary.md
while IFS= read -r line; do summary "${line}"; done <report/summary.md
emit retrain "${retrain}"
