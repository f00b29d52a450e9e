"""`python -m {{ cookiecutter.package_name }}`: how Azure ML jobs call the CLI (no install step)."""

from .cli import app

app(prog_name="{{ cookiecutter.__cli_name }}")
