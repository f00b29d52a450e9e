# Sourced by every release script: the few things GitHub Actions and Azure Pipelines do
# differently, each behind one name. Everything else in scripts/release/ runs the same on both.
# shellcheck shell=bash

# Azure Pipelines sets TF_BUILD in every step; GitHub Actions never does.
# A value that later jobs or stages read: a step output on GitHub, an output variable on
# Azure Pipelines (read as dependencies.<job>.outputs['<step>.<name>']).
emit() {
  if [[ -n "${TF_BUILD:-}" ]]; then
    echo "##vso[task.setvariable variable=$1;isOutput=true]$2"
  else
    echo "$1=$2" >>"${GITHUB_OUTPUT:-/dev/null}"
  fi
}

# A variable for the later steps of the same job.
export_var() {
  if [[ -n "${TF_BUILD:-}" ]]; then
    echo "##vso[task.setvariable variable=$1]$2"
  else
    echo "$1=$2" >>"${GITHUB_ENV:-/dev/null}"
  fi
  export "$1=$2"
}

# A line of the run's summary page (Markdown).
summary() {
  if [[ -n "${TF_BUILD:-}" ]]; then
    local file="${AGENT_TEMPDIRECTORY:-/tmp}/release-summary-${0##*/}.md"
    [[ -f "${file}" ]] || echo "##vso[task.uploadsummary]${file}"
    printf '%s\n' "$*" >>"${file}"
  else
    printf '%s\n' "$*" >>"${GITHUB_STEP_SUMMARY:-/dev/null}"
  fi
}

# Stop the run with a message the platform shows as an error.
fail() {
  if [[ -n "${TF_BUILD:-}" ]]; then
    echo "##vso[task.logissue type=error]$*"
  else
    echo "::error::$*"
  fi
  exit 1
}

warn() {
  if [[ -n "${TF_BUILD:-}" ]]; then
    echo "##vso[task.logissue type=warning]$*"
  else
    echo "::warning::$*"
  fi
}

# Keep a value out of the logs from here on.
mask() {
  if [[ -n "${TF_BUILD:-}" ]]; then
    echo "##vso[task.setsecret]$1"
  else
    echo "::add-mask::$1"
  fi
}

# The run and its attempt, unique per platform: names a deployment so that a re-run never
# collides with a half-made one.
run_id() {
  echo "${GITHUB_RUN_NUMBER:-${BUILD_BUILDID:-0}}-${GITHUB_RUN_ATTEMPT:-${SYSTEM_JOBATTEMPT:-1}}"
}

# The version of the code a model is trained from: the commit, or the wheel's version that
# Azure Pipelines' CI published (CODE_VERSION, set by the release).
code_version() {
  echo "${CODE_VERSION:-${GITHUB_SHA:-${BUILD_SOURCEVERSION:-unknown}}}"
}

# The Azure ML CLI, pointed at this environment's workspace.
azureml_defaults() {
  : "${AZURE_RESOURCE_GROUP:?}" "${AZUREML_WORKSPACE:?}"
  az extension add --name ml --upgrade --yes
  az configure --defaults group="${AZURE_RESOURCE_GROUP}" workspace="${AZUREML_WORKSPACE}"
}
