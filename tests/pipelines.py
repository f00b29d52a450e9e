"""Azure Pipelines YAML as Azure DevOps compiles it, for the tests of .azure-pipelines/.

`expand` inlines each `- template: <file>` of a stages, jobs or steps list with the template's
parameters (declared defaults, then the values given) substituted for `${{ parameters.x }}`.
That is all the template syntax the pipelines use (a test keeps it so): no `${{ if }}` or
`${{ each }}`. The schema Microsoft publishes cannot check a template on its own (a step `name:`
of `${{ parameters.name }}` breaks its patterns), so the tests check the expanded pipelines.
"""

import re
from pathlib import Path
from typing import Any

import yaml

PARAMETER = re.compile(r"\$\{\{\s*parameters\.(\w+)\s*\}\}")
EXPRESSION = re.compile(r"\$\{\{")
# Every task the pipelines use, with the inputs they may pass: checked against each task's
# task.json in microsoft/azure-pipelines-tasks (Tasks/<Name>V<major>/task.json; names and
# aliases), on 2026-11-30.
TASKS: dict[str, set[str]] = {
    "AzureCLI@2": {
        "azureSubscription",
        "connectedServiceNameARM",
        "scriptType",
        "scriptLocation",
        "scriptPath",
        "inlineScript",
        "arguments",
        "scriptArguments",
        "workingDirectory",
        "addSpnToEnvironment",
        "failOnStandardError",
        "keepAzSessionActive",
    },
    "UsePythonVersion@0": {"versionSpec", "addToPath", "architecture"},
    "PublishTestResults@2": {
        "testResultsFormat",
        "testResultsFiles",
        "testRunTitle",
        "failTaskOnMissingResultsFile",
        "mergeTestResults",
    },
    "PublishCodeCoverageResults@2": {"summaryFileLocation", "pathToSources", "failIfCoverageEmpty"},
    "TwineAuthenticate@1": {"artifactFeed", "pythonUploadServiceConnection"},
}


# Tasks newer than the Azure Pipelines schema check-jsonschema vendors: their inputs are checked
# against TASKS only, and the schema sees the pipelines without them.
NEWER_THAN_SCHEMA = {"PublishCodeCoverageResults@2"}  # V2 (2023) replaced V1, in the schema


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def substitute(node: Any, parameters: dict[str, Any]) -> Any:
    """`${{ parameters.x }}` replaced: a whole value keeps the parameter's type, as in Azure
    Pipelines; inside a string it becomes text (a boolean as True or False)."""
    if isinstance(node, str):
        whole = PARAMETER.fullmatch(node.strip())
        if whole:
            return parameters[whole.group(1)]
        return PARAMETER.sub(lambda match: str(parameters[match.group(1)]), node)
    if isinstance(node, list):
        return [substitute(item, parameters) for item in node]
    if isinstance(node, dict):
        return {substitute(k, parameters): substitute(v, parameters) for k, v in node.items()}
    return node


def expand(path: Path, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """The pipeline (or template) at `path`, templates inlined and parameters substituted."""
    document = load(path)
    declared = {p["name"]: p.get("default") for p in document.get("parameters", [])}
    unknown = set(given or {}) - set(declared)
    assert not unknown, f"{path.name}: parameters {sorted(unknown)} are not declared"
    values = declared | (given or {})
    missing = [name for name, value in values.items() if value is None]
    assert not missing, f"{path.name}: no value for {missing}"
    body = {k: v for k, v in document.items() if k != "parameters" or given is None}
    expanded: dict[str, Any] = inline(substitute(body, values), path.parent)
    return expanded


def inline(node: Any, folder: Path) -> Any:
    if isinstance(node, list):
        items: list[Any] = []
        for item in node:
            if isinstance(item, dict) and "template" in item:
                assert set(item) <= {"template", "parameters"}, item
                template = expand(folder / item["template"], item.get("parameters", {}))
                items += [
                    entry for key in ("stages", "jobs", "steps") for entry in template.get(key, [])
                ]
            else:
                items.append(inline(item, folder))
        return items
    if isinstance(node, dict):
        return {key: inline(value, folder) for key, value in node.items()}
    return node


def for_schema(node: Any, in_inputs: bool = False) -> Any:
    """The pipeline as the JSON schema reads it: numbers and booleans as the strings Azure
    Pipelines reads them as (`timeoutInMinutes: "30"`, `always: "true"`), except a task's
    boolean inputs, which it types as booleans; and without the steps of NEWER_THAN_SCHEMA."""
    if isinstance(node, bool):
        return node if in_inputs else str(node).lower()
    if isinstance(node, int | float):
        return str(node)
    if isinstance(node, list):
        kept = [i for i in node if not (isinstance(i, dict) and i.get("task") in NEWER_THAN_SCHEMA)]
        return [for_schema(item, in_inputs) for item in kept]
    if isinstance(node, dict):
        return {key: for_schema(value, in_inputs or key == "inputs") for key, value in node.items()}
    return node


def jobs(pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every job, as `<stage>.<job>` (a deployment job by its `deployment:` name)."""
    return {
        f"{stage['stage']}.{job.get('job') or job.get('deployment')}": job
        for stage in pipeline["stages"]
        for job in stage["jobs"]
    }


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    """A job's steps; a deployment job's are in its strategy's deploy hook."""
    if "steps" in job:
        listed: list[dict[str, Any]] = job["steps"]
        return listed
    return list(job["strategy"]["runOnce"]["deploy"]["steps"])
