#!/usr/bin/env bash
# Smoke-test an Azure ML online endpoint with `make smoke` (azureml/smoke-request.json): its
# scoring URL and key come from Azure; the key is masked in the log and passed in the
# environment, never on a command line.
#
# Usage: smoke-test.sh <endpoint> [smoke options, e.g. --deployment NAME --attempts 5]
set -euo pipefail
# shellcheck source=scripts/release/lib.sh
source "$(dirname "$0")/lib.sh"

endpoint="${1:?usage: smoke-test.sh <endpoint> [smoke options]}"
shift
url=$(az ml online-endpoint show --name "${endpoint}" --query scoring_uri --output tsv)
key=$(az ml online-endpoint get-credentials --name "${endpoint}" --query primaryKey --output tsv)
mask "${key}"
SCORING_KEY="${key}" make smoke URL="${url}" SMOKE_ARGS="$*"
