"""Run `az` command lines through the real Azure CLI, as far as it goes without Azure.

Run by the Python of a venv with azure-cli (and the `ml` extension in AZURE_EXTENSION_DIR):
reads a JSON list of argument lists on stdin, prints a JSON list of results. In one process,
so that the CLI and the extension load once. Each command is parsed by the real parser; then
- an `az ml` command runs its real handler, which loads the YAML spec with its `--set`
  overrides (a wrong path fails there), up to its first call to Azure: `get_ml_client` gives
  it a client on which any call stops the command;
- any other command stops right after the parser accepted it (it would call Azure next).
A result's outcome is "parsed" or "reached azure" when the line is good; anything else is a
problem, with the CLI's own message.
"""

import contextlib
import importlib
import io
import json
import os
import pkgutil
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

from azure.cli.core import get_default_cli
from knack.events import EVENT_INVOKER_POST_PARSE_ARGS


class Stop(Exception):  # noqa: N818 (not an error: the end of the road)
    """Raised where the command would talk to Azure."""


reached: list[str] = []


def stop_after_parse(_: Any, **kwargs: Any) -> None:
    if str(kwargs.get("command", "")).startswith("ml "):
        return  # the ml handler runs, up to get_ml_client
    reached.append("parsed")
    raise Stop


class Offline:
    """What `get_ml_client` returns here: any call on it is the call to Azure, which stops the
    command; everything the handler does before (loading the spec with its overrides) ran."""

    def __getattr__(self, name: str) -> "Offline":
        return Offline()

    def __call__(self, *_: Any, **__: Any) -> Any:
        reached.append("reached azure")
        raise Stop


def no_azure(*_: Any, **__: Any) -> tuple[Offline, bool]:
    return Offline(), False  # (client, debug)


def patch_ml_extension() -> None:
    """Every module of the ml extension that connects through `get_ml_client`."""
    sys.path.append(os.path.join(os.environ["AZURE_EXTENSION_DIR"], "ml"))
    # The extension's client factory logs in for a client that "isn't used by any command"
    # (its own comment): none, so that a command reaches its handler offline.
    factory = importlib.import_module("azext_mlv2.generated._client_factory")
    setattr(factory, "cf_ml_cl", lambda *_: None)  # noqa: B010 (a module's attribute, replaced)
    custom = importlib.import_module("azext_mlv2.manual.custom")

    for module in pkgutil.iter_modules(custom.__path__):
        try:
            loaded = importlib.import_module(f"{custom.__name__}.{module.name}")
        except ImportError:  # optional parts (ssh to compute) need packages not installed
            continue
        if hasattr(loaded, "get_ml_client"):
            setattr(loaded, "get_ml_client", no_azure)  # noqa: B010


def run(argv: list[str]) -> dict[str, Any]:
    reached.clear()
    cli = get_default_cli()
    cli.register_event(EVENT_INVOKER_POST_PARSE_ARGS, stop_after_parse)
    with captured() as output:
        try:
            code = cli.invoke(argv, out_file=io.StringIO())
        except SystemExit as exit:  # the parser exits 2 on a bad command line
            code = exit.code
    outcome = reached[0] if reached else f"exit {code}"
    return {"argv": argv, "outcome": outcome, "message": output.getvalue()[-3000:]}


@contextlib.contextmanager
def captured() -> Iterator[io.StringIO]:
    """Everything written to stdout and stderr, by Python or by the loggers the CLI set up on
    them (file descriptors 1 and 2)."""
    text = io.StringIO()
    with tempfile.TemporaryFile("w+") as file:
        saved = [os.dup(1), os.dup(2)]
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(file.fileno(), 1)
        os.dup2(file.fileno(), 2)
        try:
            yield text
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            file.seek(0)
            text.write(file.read())


def main() -> None:
    """`python az_check.py RESULTS.json < COMMANDS.json`"""
    commands = json.load(sys.stdin)
    patch_ml_extension()
    results = [run(argv) for argv in commands]
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        json.dump(results, out)


if __name__ == "__main__":
    main()
