#!/usr/bin/env bash
# Wait for an Azure ML job to finish, polling in short steps and logging in again as needed, so
# a training run of any length never outlives the login. Exits 0 only when the job completed.
#
# Usage: azureml-wait.sh <job name>   (POLL_SECONDS, TIMEOUT_MINUTES to tune)
set -euo pipefail
# shellcheck source=scripts/release/lib.sh
source "$(dirname "$0")/lib.sh"

job="${1:?usage: azureml-wait.sh <job name>}"
poll="${POLL_SECONDS:-60}"
deadline=$((SECONDS + ${TIMEOUT_MINUTES:-180} * 60))
here="$(dirname "$0")"
last_login=-1000

while true; do
  if ((SECONDS - last_login > 300)); then
    "${here}/azure-login.sh"
    last_login=${SECONDS}
  fi
  status=$(az ml job show --name "${job}" --query status --output tsv)
  now=$(date -u +%H:%M:%S)
  echo "${now} ${job}: ${status}"
  case "${status}" in
    Completed) exit 0 ;;
    Failed | Canceled | NotResponding)
      az ml job show --name "${job}" --query "{status: status, studio: services.Studio.endpoint}"
      fail "Azure ML job ${job} ended ${status}: see its logs in the studio link above"
      ;;
    *) ;; # NotStarted, Queued, Preparing, Starting, Running, Finalizing...
  esac
  if ((SECONDS > deadline)); then
    fail "Azure ML job ${job} still ${status} after ${TIMEOUT_MINUTES:-180} minutes"
  fi
  sleep "${poll}"
done
