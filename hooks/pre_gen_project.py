"""Validate every template answer before Cookiecutter writes anything.

Cookiecutter renders this file with Jinja, so the answers arrive as one JSON string literal,
RENDERED_CONTEXT; everything else is plain Python that the unit tests import unrendered.
A non-zero exit makes Cookiecutter delete the half-created project folder.
"""

import json
import keyword
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The whole context as one JSON literal: escaped by jsonify, so quotes or backslashes in a free-text
# answer cannot break this file. Raw triple quotes: the JSON spans lines and contains quotes.
RENDERED_CONTEXT = r"""{{ cookiecutter | jsonify }}"""

ENVIRONMENTS = ("dev", "uat", "prod")

# `type` became a soft keyword in 3.12; the hook may run on an older Python than the project.
SOFT_KEYWORDS = frozenset(keyword.softkwlist) | {"type"}

# sys.stdlib_module_names leaves out CPython's own `test` package.
STDLIB_MODULES = sys.stdlib_module_names | {"test"}

# Import names of the generated project's dependencies: a package with one of these names
# would be imported in place of the library.
DEPENDENCY_MODULES = frozenset(
    {
        "azure",
        "fastapi",
        "matplotlib",
        "mlflow",
        "numpy",
        "pandas",
        "pandera",
        "pyarrow",
        "pydantic",
        "scipy",
        "sklearn",
        "typer",
    }
)


# Distribution names of every package in a generated project's uv.lock (levels share one
# pyproject.toml, so one lock): a project of the same name would depend on itself, and uv
# refuses to install it. tests/test_bake.py checks that a baked project's lock adds no name.
LOCKED_NAMES = """
    aiohappyeyeballs aiohttp aiosignal alembic annotated-doc annotated-types anyio arrow asgiref
    ast-serialize async-timeout attrs azure-ai-ml azure-core azure-core-tracing-opentelemetry
    azure-identity azure-mgmt-core azure-monitor-opentelemetry
    azure-monitor-opentelemetry-exporter azure-storage-blob azure-storage-file-datalake
    azure-storage-file-share azureml-ai-monitoring binaryornot blinker cachetools certifi cffi
    cfgv charset-normalizer click cloudpickle colorama coloredlogs contourpy cookiecutter
    coverage cruft cryptography cycler databricks-sdk distlib docker exceptiongroup fastapi
    filelock flask flask-cors flatbuffers fonttools frozenlist gitdb gitpython google-auth
    graphene graphql-core graphql-relay greenlet grimp gunicorn h11 harfile httptools huey
    humanfriendly hypothesis hypothesis-graphql identify idna import-linter importlib-metadata
    iniconfig isodate itsdangerous jinja2 joblib jsonschema jsonschema-rs
    jsonschema-specifications kiwisolver librt mako markdown-it-py markupsafe marshmallow
    matplotlib mdurl ml-dtypes mlflow mlflow-skinny mlflow-tracing mpmath msal msal-extensions
    msrest multidict mypy mypy-extensions narwhals nodeenv numpy oauthlib onnx onnxruntime
    opentelemetry-api opentelemetry-instrumentation opentelemetry-instrumentation-asgi
    opentelemetry-instrumentation-dbapi opentelemetry-instrumentation-django
    opentelemetry-instrumentation-fastapi opentelemetry-instrumentation-flask
    opentelemetry-instrumentation-httpx opentelemetry-instrumentation-logging
    opentelemetry-instrumentation-psycopg2 opentelemetry-instrumentation-requests
    opentelemetry-instrumentation-urllib opentelemetry-instrumentation-urllib3
    opentelemetry-instrumentation-wsgi opentelemetry-proto opentelemetry-resource-detector-azure
    opentelemetry-sdk opentelemetry-semantic-conventions opentelemetry-util-http packaging
    pandas pandas-stubs pandera pathspec pillow platformdirs pluggy pre-commit prettytable
    propcache protobuf psutil pyarrow pyasn1 pyasn1-modules pycparser pydantic pydantic-core
    pydantic-settings pydash pygments pyjwt pyparsing pyrate-limiter pyreadline3 pytest
    pytest-cov python-dateutil python-discovery python-dotenv python-slugify pytz pywin32 pyyaml
    referencing requests requests-oauthlib rich rpds-py ruff schemathesis scikit-learn scipy
    shellingham six skl2onnx skops smmap sortedcontainers sqlalchemy sqlparse starlette
    strictyaml sympy text-unidecode threadpoolctl toml tomli tqdm typeguard typer types-pytz
    types-pyyaml typing-extensions typing-inspect typing-inspection tzdata urllib3 uvicorn
    uvloop virtualenv waitress watchfiles wcwidth websockets werkzeug wrapt yarl zipp
"""
DEPENDENCY_DISTRIBUTIONS = frozenset(LOCKED_NAMES.split())


def _matches(pattern: str) -> Callable[[str], bool]:
    """Return a check that the whole value matches `pattern`."""
    compiled = re.compile(pattern)
    return lambda value: compiled.fullmatch(value) is not None


def _one_of(*allowed: str) -> Callable[[str], bool]:
    """Return a check that the value is one of the offered choices."""
    return lambda value: value in allowed


def _is_github_repository(value: str) -> bool:
    """Check GitHub's owner/name rules, which the OIDC federated credentials must match."""
    owner, _, name = value.partition("/")
    valid_owner = len(owner) <= 39 and re.fullmatch(r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*", owner)
    valid_name = re.fullmatch(r"[A-Za-z0-9._-]{1,100}", name) and name not in {".", ".."}
    return bool(valid_owner and valid_name)


# A rule is a check and the plain-English requirement it enforces. Only the first failing rule
# of each answer is reported, so one bad value yields one message.
Rule = tuple[Callable[[str], bool], str]

FREE_TEXT: Rule = (
    lambda value: not set(value) & set('"\\') and value.isprintable(),
    (
        "must be one line without double quotes, backslashes or control characters:"
        " it is written into TOML, YAML and Python strings"
    ),
)

ANSWER_RULES: dict[str, tuple[Rule, ...]] = {
    "project_name": ((lambda value: bool(value.strip()), "must not be empty"), FREE_TEXT),
    "description": (FREE_TEXT,),
    "author_name": (FREE_TEXT,),
    "project_slug": (
        (
            _matches(r"[a-z0-9][a-z0-9-]{0,62}[a-z0-9]"),
            (
                "must be 2-64 lowercase letters, digits and hyphens, starting and ending with a "
                "letter or digit (it is the repository, distribution and command name)"
            ),
        ),
        (
            lambda value: re.sub(r"[-_.]+", "-", value) not in DEPENDENCY_DISTRIBUTIONS,
            (
                "must not be the name of a package the project depends on: the project would"
                " depend on itself, and uv would refuse to install it"
            ),
        ),
    ),
    "package_name": (
        (
            str.isidentifier,
            (
                "must be a valid Python identifier: letters, digits and underscores, "
                "not starting with a digit"
            ),
        ),
        (
            _matches(r"[a-z_][a-z0-9_]*"),
            "must be lowercase letters, digits and underscores (PEP 8 package names)",
        ),
        (
            lambda value: not keyword.iskeyword(value) and value not in SOFT_KEYWORDS,
            (
                "must not be a Python keyword or soft keyword: "
                "it could not be imported, or would read ambiguously"
            ),
        ),
        (
            lambda value: value not in STDLIB_MODULES,
            "must not be a standard-library module name: it would shadow that module",
        ),
        (
            lambda value: value not in DEPENDENCY_MODULES,
            (
                "must not be the import name of a project dependency: "
                "importing the library would load the project instead"
            ),
        ),
    ),
    "author_email": (
        (
            _matches(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
            (
                "must be an e-mail address like name@example.com: letters, digits and ._%+-"
                " before the @ (it is written into TOML and YAML)"
            ),
        ),
    ),
    "license": (
        (
            _one_of("MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary"),
            "must be one of MIT, Apache-2.0, BSD-3-Clause, Proprietary",
        ),
    ),
    "python_version": (
        (_one_of("3.10", "3.11", "3.12", "3.13"), "must be one of 3.10, 3.11, 3.12, 3.13"),
    ),
    "maturity_level": ((_one_of("0", "1", "2"), "must be one of 0, 1, 2"),),
    "ci_platform": ((_one_of("github", "azure_devops"), "must be one of github, azure_devops"),),
    "azure_location": (
        (_matches(r"[a-z0-9]+"), "must be an Azure region name: lowercase letters and digits"),
    ),
    "azure_resource_prefix": (
        (
            _matches(r"[a-z0-9]{2,12}"),
            (
                "must be 2-12 lowercase letters and digits "
                "(it is used in storage account and container registry names)"
            ),
        ),
    ),
}

# The answers of each CI platform, checked only when it is the one chosen.
PLATFORM_RULES: dict[str, dict[str, tuple[Rule, ...]]] = {
    "github": {
        "github_repository": (
            (
                _is_github_repository,
                (
                    "must be owner/name: an owner of 1-39 letters, digits and single inner"
                    " hyphens, and a name of 1-100 letters, digits, '.', '_' or '-' other than"
                    " '.' and '..'"
                ),
            ),
        ),
    },
    # Azure DevOps' naming rules.
    "azure_devops": {
        "azure_devops_organization": (
            (
                _matches(r"[A-Za-z0-9]([A-Za-z0-9-]{0,48}[A-Za-z0-9])?"),
                (
                    "must be the organization's name in https://dev.azure.com/<name>: 1-50 letters,"
                    " digits and hyphens, starting and ending with a letter or digit"
                ),
            ),
        ),
        "azure_devops_project": (
            (
                lambda value: 1 <= len(value) <= 64 and value.isprintable(),
                "must be 1-64 characters on one line",
            ),
            (
                lambda value: not set(value) & set('\\/:*?"<>|;#$*{},+=[]'),
                'must not contain any of \\ / : * ? " < > | ; # $ { } , + = [ ] (Azure DevOps)',
            ),
            (
                lambda value: (
                    not value.startswith(("_", "."))
                    and not value.endswith(".")
                    and value == value.strip()
                ),
                "must not start with _ or ., end with ., or start or end with a space",
            ),
        ),
    },
}

ENDPOINT_RULE: Rule = (
    _matches(r"[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]"),
    "must be 3-32 letters, digits and hyphens, starting with a letter (Azure ML endpoint names)",
)

# Derived from the prefix in cookiecutter.json but overridable via --extra-context or replay.
AZURE_RULES: dict[str, tuple[Rule, ...]] = {
    "resource_group": (
        (
            _matches(r"[A-Za-z0-9_.()-]{0,89}[A-Za-z0-9_()-]"),
            "must be 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'",
        ),
    ),
    "workspace": (
        (
            _matches(r"[A-Za-z0-9][A-Za-z0-9_-]{2,32}"),
            "must be 3-33 letters, digits, '-' or '_', starting with a letter or digit",
        ),
    ),
    "container_registry": ((_matches(r"[A-Za-z0-9]{5,50}"), "must be 5-50 letters and digits"),),
    "storage_account": (
        (_matches(r"[a-z0-9]{3,24}"), "must be 3-24 lowercase letters and digits"),
    ),
    "online_endpoint": (ENDPOINT_RULE,),
    "batch_endpoint": (ENDPOINT_RULE,),
}

# The Azure ML registry that carries one model version from dev to prod.
SHARED_RULES: dict[str, tuple[Rule, ...]] = {
    "resource_group": AZURE_RULES["resource_group"],
    "registry": (
        (
            _matches(r"[A-Za-z0-9][A-Za-z0-9_-]{2,32}"),
            "must be 3-33 letters, digits, '-' or '_', starting with a letter or digit",
        ),
    ),
}


def _problem(label: str, value: str, rules: tuple[Rule, ...]) -> str | None:
    """Describe the first rule `value` breaks, or return None if it passes them all."""
    for check, requirement in rules:
        if not check(value):
            return f"{label} {value!r} {requirement}"
    return None


def validate(answers: dict[str, Any]) -> list[str]:
    """Return every problem with the answers, so the user can fix them all in one go."""
    problems = [_problem(name, answers[name], rules) for name, rules in ANSWER_RULES.items()]
    platform_rules = PLATFORM_RULES.get(answers["ci_platform"], {})
    problems += [_problem(name, answers[name], rules) for name, rules in platform_rules.items()]
    for group, group_rules in [("shared", SHARED_RULES)] + [(e, AZURE_RULES) for e in ENVIRONMENTS]:
        names = answers["azure"].get(group, {})
        problems += [
            _problem(f"__azure.{group}.{key}", names.get(key, ""), rules)
            for key, rules in group_rules.items()
        ]
    return [problem for problem in problems if problem]


def answers_from(context: dict[str, Any]) -> dict[str, Any]:
    """The answers `validate` reads, from Cookiecutter's context."""
    names = [*ANSWER_RULES, *(name for rules in PLATFORM_RULES.values() for name in rules)]
    return {name: context[name] for name in names} | {"azure": context["__azure"]}


def forget_rendered_copy() -> None:
    """Cookiecutter runs this hook from a rendered copy in the temporary folder and leaves it
    there, every answer inside: delete it. (The template's own file is never in that folder.)"""
    path = Path(__file__).resolve()
    if path.parent == Path(tempfile.gettempdir()).resolve():
        path.unlink(missing_ok=True)


def main(answers: dict[str, Any] | None = None) -> None:
    """Exit 1 with every problem on stderr; stay silent when the answers are valid."""
    forget_rendered_copy()
    if answers is None:
        answers = answers_from(json.loads(RENDERED_CONTEXT))
    problems = validate(answers)
    if problems:
        print(f"The template answers have {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
