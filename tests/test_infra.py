"""The baked infrastructure as code (infra/*.bicep, maturity level 1 and up), checked offline.

No Bicep compiler installs here: the CLI is a .NET binary published on GitHub and NuGet, and the
npm and PyPI packages around it (bicep-node, bicep RPC clients) download or expect that binary.
So nothing here runs `bicep build`. What runs instead, all real tools and data:
- pycep, the Bicep parser checkov is built on, parses both files: a syntax error fails;
- every property a resource sets is looked up in Azure's generated REST models (the SDK packages)
  of the same API version: unknown, misspelled or read-only properties and missing required ones
  fail, as `bicep build` would warn (BCP037, BCP073, BCP035);
- checkov runs its Bicep security policies, offline;
- the parameters, infra/environments.toml, azureml/compute.yml and the data layers agree.
Not covered: expressions (references, functions) are not evaluated, values are not type-checked,
the container registry's properties (no SDK models for its API version) are not looked up, and
nothing that only a deployment shows (name availability, quotas, resource provider validation).
"""

import importlib
import json
import os
import re
import subprocess
import sys
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from baking import Bake

UV = Path(sys.executable).with_name("uv")
# Run apart from the template's environment: checkov pins older pytest and packaging releases.
CHECKOV = "checkov==3.3.30"
BICEP_FILES = ("main.bicep", "registry.bicep")

# The parameters scripts/bootstrap.py passes (`-p name=value`); any other needs a default.
BOOTSTRAP_PARAMETERS = {
    "main.bicep": {"location", "workspaceName", "storageAccountName", "containerRegistryName"},
    "registry.bicep": {"location", "registryName"},
}
# environments.toml key -> main.bicep parameter, and the keys that are not Bicep's business.
TOML_PARAMETERS = {
    "workspace": "workspaceName",
    "storage_account": "storageAccountName",
    "container_registry": "containerRegistryName",
}
NOT_BICEP = {"subscription_id", "resource_group", "online_endpoint", "batch_endpoint"}
NOT_BICEP |= {"required_reviewers"}  # a GitHub environment setting
# Azure's naming rules for the names environments.toml gives (Bicep has no regex decorator).
AZURE_NAMES = {
    "workspaceName": r"[A-Za-z0-9][A-Za-z0-9_-]{2,32}",
    "storageAccountName": r"[a-z0-9]{3,24}",
    "containerRegistryName": r"[A-Za-z0-9]{5,50}",
    "registryName": r"[A-Za-z0-9][A-Za-z0-9_-]{2,32}",
}

REST_ML = "Microsoft.MachineLearningServices"
ML = "azure.ai.ml._restclient.arm_ml_service"  # azure-ai-ml ships the ARM models it calls
STORAGE = "azure.mgmt.storage"
# Resource type -> (package of its REST models, model of the PUT body). `{version}`: the SDK has
# one subpackage per API version; the others hold one API version, which must be the Bicep's.
REST_MODELS = {
    f"{REST_ML}/workspaces": (ML, "Workspace"),
    f"{REST_ML}/workspaces/computes": (ML, "ComputeResource"),
    f"{REST_ML}/workspaces/datastores": (ML, "Datastore"),
    f"{REST_ML}/registries": (ML, "Registry"),
    "Microsoft.Storage/storageAccounts": (STORAGE, "StorageAccountCreateParameters"),
    "Microsoft.Storage/storageAccounts/blobServices": (STORAGE, "BlobServiceProperties"),
    "Microsoft.Storage/storageAccounts/blobServices/containers": (STORAGE, "BlobContainer"),
    "Microsoft.KeyVault/vaults": ("azure.mgmt.keyvault", "VaultCreateOrUpdateParameters"),
    "Microsoft.OperationalInsights/workspaces": ("azure.mgmt.loganalytics", "Workspace"),
    "Microsoft.Insights/components": (
        "azure.mgmt.applicationinsights.v{version}",
        "ApplicationInsightsComponent",
    ),
    "Microsoft.Authorization/roleAssignments": (
        "azure.mgmt.authorization.v{version}",
        "RoleAssignmentCreateParameters",
    ),
}
NO_REST_MODEL = {
    # azure-mgmt-containerregistry holds API 2025-11-01 only, which Bicep's types do not have yet.
    "Microsoft.ContainerRegistry/registries",
}
BICEP_ONLY = {"name", "parent", "scope", "dependsOn"}  # resource keys outside the REST body

# checkov findings this level accepts, and why. Anything else fails.
PUBLIC_NETWORK = "level 1 keeps public endpoints behind Entra ID; private networking comes later"
ACCEPTED_FINDINGS = {
    "CKV_AZURE_35": PUBLIC_NETWORK,  # storage network rules: default deny
    "CKV_AZURE_59": PUBLIC_NETWORK,  # storage public network access
    "CKV_AZURE_109": PUBLIC_NETWORK,  # key vault firewall
    "CKV_AZURE_189": PUBLIC_NETWORK,  # key vault public network access
    "CKV_AZURE_139": PUBLIC_NETWORK,  # container registry public network access
    "CKV_AZURE_243": PUBLIC_NETWORK,  # workspace private endpoint
    "CKV_AZURE_166": "image quarantine needs a Premium registry",
    "CKV_AZURE_206": "LRS by default for cost; storageSkuName takes Standard_GRS",
    "CKV_AZURE_43": "checkov reads the parameter's name, not its value; see AZURE_NAMES",
}
# Passes that show checkov read the properties: HTTPS only, TLS 1.2, private containers,
# recoverable key vault, registry admin user disabled.
EXPECTED_PASSES = {"CKV_AZURE_3", "CKV_AZURE_44", "CKV_AZURE_34", "CKV_AZURE_42", "CKV_AZURE_137"}

# Importing azure-ai-ml's models loads its marshmallow schemas, which warn about marshmallow 4.
pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:azure.ai.ml"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:marshmallow"),
]


def parse(path: Path) -> dict[str, Any]:
    """The Bicep file as pycep's JSON: parameters, variables, resources and outputs."""
    from pycep import BicepParser

    parsed: dict[str, Any] = dict(BicepParser().parse(file_path=path))
    return parsed


def body(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource's declaration, without the loop or condition around it."""
    config = resource["config"]
    while "config" in config and ("loop_type" in config or "condition" in config):
        config = config["config"]
    declaration: dict[str, Any] = config
    return declaration


def resources(infra: Path) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{name}:{symbol}", resource)
        for name in BICEP_FILES
        for symbol, resource in parse(infra / name).get("resources", {}).items()
    ]


def of_type(bicep: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in bicep["resources"].values() if r["type"] == resource_type]


def is_object(value: Any) -> bool:
    """An object literal; pycep gives references as strings, expressions as operator/function."""
    return isinstance(value, dict) and not {"operator", "function"} & value.keys()


@dataclass
class Field:
    """One property of a REST model, as written in the JSON body."""

    writable: bool
    required: bool
    model: Any = None  # the model of a nested object, or a dict of Fields (flattened msrest)
    many: bool = False  # a list, or a map, of such objects


def api_version_of(package: str) -> str:
    """The API version a single-version SDK package calls."""
    configuration = importlib.import_module(f"{package}._configuration")
    (cls,) = [c for n, c in vars(configuration).items() if n.endswith("Configuration")]
    return str(cls(credential=object(), subscription_id="0").api_version)


def rest_model(resource_type: str, api_version: str) -> Any:
    package, name = REST_MODELS[resource_type]
    if "{version}" in package:
        package = package.format(version=api_version.replace("-", "_"))
    else:
        assert api_version_of(package) == api_version, f"{package} models another API version"
    return getattr(importlib.import_module(f"{package}.models"), name)


def unwrap(hint: Any) -> tuple[Any, bool]:
    """The class in an annotation (Optional, list or dict of it), and whether there are many."""
    if typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = args[0] if len(args) == 1 else None
    if typing.get_origin(hint) in (list, dict):
        return typing.get_args(hint)[-1], True
    return hint, False


def typespec_fields(model: Any, value: dict[str, Any]) -> dict[str, Field]:
    """Fields of a model generated from TypeSpec (newer SDKs), its subtype picked by `value`."""
    model.__new__(model)  # the generated code maps attributes to REST names on first use
    discriminators = [
        f._rest_name for f in model._attr_to_rest_field.values() if f._is_discriminator
    ]
    for key in discriminators:
        subtype = getattr(model, "__mapping__", {}).get(value.get(key))
        if subtype is not None and subtype is not model:
            return typespec_fields(subtype, value)
    package = importlib.import_module(model.__module__.rsplit(".", 1)[0])
    hints = typing.get_type_hints(model, localns={"_models": package})
    fields = {}
    for attr, rest in model._attr_to_rest_field.items():
        hint = hints.get(attr)
        nested, many = unwrap(hint)
        fields[rest._rest_name] = Field(
            writable=rest._visibility is None or bool({"create", "update"} & set(rest._visibility)),
            required=type(None) not in typing.get_args(hint) and hint is not Any,
            model=nested if getattr(nested, "_is_model", False) else None,
            many=many,
        )
    return fields


def msrest_fields(model: Any) -> dict[str, Field]:
    """Fields of an msrest model (older SDKs), whose `properties.x` keys are flattened."""
    namespace = sys.modules[model.__module__]
    fields: dict[str, Field] = {}
    for attr, spec in model._attribute_map.items():
        rules = model._validation.get(attr, {})
        *parents, leaf = spec["key"].split(".")
        node, chain = fields, []
        for parent in parents:
            chain.append(node.setdefault(parent, Field(writable=True, required=False, model={})))
            node = chain[-1].model
        nested = getattr(namespace, spec["type"].strip("[]{}"), None)
        node[leaf] = Field(
            writable=not rules.get("readonly"),
            required=bool(rules.get("required")),
            model=nested if hasattr(nested, "_attribute_map") else None,
            many=spec["type"][0] in "[{",
        )
        for parent in chain if rules.get("required") else []:
            parent.required = True
    return fields


def fields_of(model: Any, value: dict[str, Any]) -> dict[str, Field]:
    if isinstance(model, dict):
        return model
    if hasattr(model, "_attribute_map"):
        return msrest_fields(model)
    return typespec_fields(model, value)


def problems(model: Any, value: Any, path: str) -> list[str]:
    """What the REST model rejects in `value`: unknown, read-only or missing required properties."""
    if not is_object(value):
        return []  # a reference or an expression: its value is known at deployment only
    value = {key.strip("'"): item for key, item in value.items()}
    fields = fields_of(model, value)
    found = []
    for key, item in value.items():
        spec = fields.get(key)
        if spec is None:
            found.append(f"{path}.{key}: not a property")
            continue
        if not spec.writable:
            found.append(f"{path}.{key}: read-only")
        if spec.model is None:
            continue
        if not spec.many:
            items = [item]
        elif isinstance(item, list):
            items = item
        else:
            items = list(item.values()) if is_object(item) else []
        for nested in items:
            found += problems(spec.model, nested, f"{path}.{key}")
    missing = [k for k, s in fields.items() if s.required and s.writable and k not in value]
    return found + [f"{path}.{key}: required" for key in missing]


def rest_problems(infra: Path) -> list[str]:
    found = []
    for where, resource in resources(infra):
        assert resource["type"] in REST_MODELS.keys() | NO_REST_MODEL, f"{where}: unclassified"
        if resource["type"] in NO_REST_MODEL:
            continue
        model = rest_model(resource["type"], resource["api_version"])
        rest_body = {k: v for k, v in body(resource).items() if k not in BICEP_ONLY}
        found += problems(model, rest_body, where)
    return found


def seconds(duration: str) -> int:
    """An ISO 8601 time duration (PT15M) in seconds."""
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", duration)
    assert match, duration
    hours, minutes, secs = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + secs


def length_limits(parameter: dict[str, Any]) -> tuple[int, int]:
    limits = {d["type"]: d["argument"] for d in parameter["decorators"]}
    return limits.get("min_length", 0), limits.get("max_length", sys.maxsize)


@pytest.fixture
def project(bake_once: Bake) -> Path:
    return bake_once(maturity_level="1")


def test_the_bootstrap_parameters_are_the_only_ones_without_a_default(project: Path) -> None:
    """The bootstrap passes exactly these `-p` names: a rename or a new required one breaks it."""
    for name, expected in BOOTSTRAP_PARAMETERS.items():
        parameters = parse(project / "infra" / name)["parameters"]
        assert expected <= parameters.keys(), name
        assert {p for p, spec in parameters.items() if spec.get("default") is None} <= expected


def test_every_name_in_environments_toml_fits_its_bicep_parameter(project: Path) -> None:
    """Names are typed once, in environments.toml; Azure and Bicep must both accept them."""
    names = tomllib.loads((project / "infra" / "environments.toml").read_text())
    main = parse(project / "infra" / "main.bicep")["parameters"]
    registry = parse(project / "infra" / "registry.bicep")["parameters"]
    given = [(registry, "registryName", names["shared"]["registry"])]
    given += [(main, "location", names["location"]), (registry, "location", names["location"])]
    assert names["shared"].keys() - {"registry"} <= NOT_BICEP
    assert names["environments"].keys() == {"dev", "uat", "prod"}
    for environment in names["environments"].values():
        assert environment.keys() == TOML_PARAMETERS.keys() | NOT_BICEP
        given += [(main, TOML_PARAMETERS[key], environment[key]) for key in TOML_PARAMETERS]

    for parameters, name, value in given:
        low, high = length_limits(parameters[name])
        assert low <= len(value) <= high, (name, value)
        if name in AZURE_NAMES:
            assert re.fullmatch(AZURE_NAMES[name], value), (name, value)


def test_every_property_is_one_the_azure_rest_api_accepts(project: Path) -> None:
    """What `bicep build` would warn about, checked against Azure's generated REST models."""
    assert rest_problems(project / "infra") == []


def test_the_rest_model_check_reports_what_it_finds(tmp_path: Path) -> None:
    """A silent model check must mean correct properties, not a check that sees nothing."""
    (tmp_path / "main.bicep").write_text(
        "resource c 'Microsoft.MachineLearningServices/workspaces/computes@2025-12-01' = {\n"
        "  name: 'c'\n  location: 'westeurope'\n  properties: {\n    computeType: 'AmlCompute'\n"
        "    properties: {\n      currentNodeCount: 1\n"
        "      scaleSettings: {\n        idleTimeBeforeScaleDown: 'PT15M'\n      }\n    }\n  }\n}\n"
        "resource a 'Microsoft.Insights/components@2020-02-02' = {\n  name: 'a'\n"
        "  location: 'westeurope'\n  properties: {\n    ApplicationType: 'web'\n  }\n}\n"
    )
    (tmp_path / "registry.bicep").write_text("param registryName string\n")

    assert sorted(rest_problems(tmp_path)) == [
        "main.bicep:a.kind: required",
        "main.bicep:a.properties.ApplicationType: not a property",
        "main.bicep:c.properties.properties.currentNodeCount: read-only",
        "main.bicep:c.properties.properties.scaleSettings.idleTimeBeforeScaleDown: not a property",
        "main.bicep:c.properties.properties.scaleSettings.maxNodeCount: required",
    ]


def test_the_cluster_is_the_one_azureml_compute_yml_describes(project: Path) -> None:
    """`az ml compute create -f azureml/compute.yml` must not change what the Bicep deployed."""
    spec = yaml.safe_load((project / "azureml" / "compute.yml").read_text())
    bicep = parse(project / "infra" / "main.bicep")
    (cluster,) = [body(r) for r in of_type(bicep, f"{REST_ML}/workspaces/computes")]
    properties = cluster["properties"]["properties"]
    scale = properties["scaleSettings"]

    assert cluster["name"] == spec["name"]
    assert cluster["properties"]["computeType"].lower() == spec["type"]
    assert properties["vmSize"] == spec["size"]
    assert scale["minNodeCount"] == spec["min_instances"]
    assert scale["maxNodeCount"] == spec["max_instances"]
    assert seconds(scale["nodeIdleTimeBeforeScaleDown"]) == spec["idle_time_before_scale_down"]


def test_each_data_layer_is_a_container_and_an_identity_based_datastore(project: Path) -> None:
    """Jobs address `azureml://datastores/<layer>/...`: one ADLS Gen2 datastore per data layer."""
    bicep = parse(project / "infra" / "main.bicep")
    layers = bicep["variables"]["layers"]["value"]
    assert set(layers) == {p.name for p in (project / "data").iterdir() if p.is_dir()}

    (containers,) = of_type(bicep, "Microsoft.Storage/storageAccounts/blobServices/containers")
    (datastores,) = of_type(bicep, f"{REST_ML}/workspaces/datastores")
    for loop in (containers, datastores):
        detail = loop["config"]["loop_type"]["detail"]
        assert detail["array_name"] == "layers"
        assert body(loop)["name"] == detail["item_name"], "named after the layer"
    datastore = body(datastores)["properties"]
    assert datastore["datastoreType"] == "AzureDataLakeGen2"
    assert datastore["credentials"] == {"credentialsType": "None"}, "no secret stored"
    assert datastore["serviceDataAccessAuthIdentity"] == "WorkspaceSystemAssignedIdentity"

    role = bicep["variables"]["storageBlobDataContributor"]["value"]
    assert "ba92f5b4-2d11-453d-a403-e96b0029c9fe" in json.dumps(role)
    grantees = {
        json.dumps(body(r)["properties"]["principalId"])
        for r in of_type(bicep, "Microsoft.Authorization/roleAssignments")
        if body(r)["properties"]["roleDefinitionId"] == "storageBlobDataContributor"
        and body(r)["scope"] == "storage"
    }
    assert any('"workspace"' in g and '"principalId"' in g for g in grantees)
    assert any('"cluster"' in g and '"principalId"' in g for g in grantees)


def test_every_resource_that_takes_tags_gets_them(project: Path) -> None:
    """Tags carry the workload and the tool that manages it, for cost reports and clean-ups."""
    for where, resource in resources(project / "infra"):
        declared = body(resource)
        if resource["type"] in NO_REST_MODEL:
            assert "tags" in declared, where
            continue
        rest = {k: v for k, v in declared.items() if k not in BICEP_ONLY}
        fields = fields_of(rest_model(resource["type"], resource["api_version"]), rest)
        if "tags" in fields:
            assert "tags" in declared, where
        elif "properties" in fields and fields["properties"].model is not None:
            inner = fields_of(fields["properties"].model, declared.get("properties", {}))
            assert "tags" not in inner or "tags" in declared["properties"], where


def test_the_settings_the_security_model_relies_on(project: Path) -> None:
    """Identity-based access, no anonymous data or registry access, recoverable secrets."""
    expected: dict[str, dict[str, object]] = {
        "Microsoft.Storage/storageAccounts": {
            "isHnsEnabled": True,
            "minimumTlsVersion": "TLS1_2",
            "allowBlobPublicAccess": False,
            "supportsHttpsTrafficOnly": True,
        },
        "Microsoft.KeyVault/vaults": {"enableRbacAuthorization": True, "enableSoftDelete": True},
        "Microsoft.ContainerRegistry/registries": {"adminUserEnabled": False},
        f"{REST_ML}/workspaces": {"publicNetworkAccess": "Enabled"},
        f"{REST_ML}/registries": {"publicNetworkAccess": "Enabled"},
    }
    declared = {r["type"]: body(r) for _, r in resources(project / "infra")}
    for resource_type, settings in expected.items():
        properties = declared[resource_type]["properties"]
        assert {k: properties.get(k) for k in settings} == settings, resource_type
    for resource_type in (f"{REST_ML}/workspaces", f"{REST_ML}/registries"):
        assert declared[resource_type]["identity"] == {"type": "SystemAssigned"}
    assert declared["Microsoft.KeyVault/vaults"]["name"] == "keyVaultName"
    assert parse(project / "infra" / "main.bicep")["variables"]["keyVaultName"]["value"] == (
        "kv-${uniqueString(resourceGroup().id, workspaceName)}"
    ), "3 + 13 characters: within Key Vault's 24, stable across deployments"


def checkov(infra: Path) -> dict[str, Any]:
    """checkov's Bicep policies, offline: no platform mappings, no downloads.

    uv installs the pinned checkov from PyPI on first use, then runs it from its cache.
    """
    run = subprocess.run(
        [
            *(str(UV), "tool", "run", "--from", CHECKOV, "checkov", "--directory", str(infra)),
            *("--framework", "bicep", "--skip-download", "--soft-fail", "--compact", "-o", "json"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    report: dict[str, Any] = json.loads(run.stdout)
    return report


def test_checkov_finds_only_the_accepted_gaps(project: Path) -> None:
    """Security policies: every finding is fixed or accepted above with its reason."""
    report = checkov(project / "infra")

    assert report["summary"]["parsing_errors"] == 0
    assert report["summary"]["resource_count"] == len(resources(project / "infra"))
    failed = {c["check_id"]: c["resource"] for c in report["results"]["failed_checks"]}
    assert failed.keys() <= ACCEPTED_FINDINGS.keys(), failed
    passed = {c["check_id"] for c in report["results"]["passed_checks"]}
    assert passed >= EXPECTED_PASSES, "a silent checkov must mean clean files, not unread ones"
