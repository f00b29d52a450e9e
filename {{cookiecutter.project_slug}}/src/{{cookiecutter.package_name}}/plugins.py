"""The optional parts of the package that a higher maturity level adds, found at run time.

A subpackage plugs in by having a `plugin` module (`monitoring/plugin.py` at level 2) that
defines any of these hooks:
- `add_commands(app)`: adds commands to the CLI (`cli.py` calls it with its typer app);
- `scoring_observers()`: returns callables that see each scored request (`asgi.py` passes them
  to the scoring API), such as Azure ML's data collector.
No code of a lower level names a package of a higher one: climbing a level only adds files.
"""

import importlib
import importlib.util
import pkgutil
from types import ModuleType
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from .serving.app import Observer


def plugins() -> list[ModuleType]:
    """The `plugin` module of every subpackage that has one, in name order."""
    package = importlib.import_module(__package__)
    found = []
    for sub in pkgutil.iter_modules(package.__path__, prefix=f"{__package__}."):
        if sub.ispkg and importlib.util.find_spec(f"{sub.name}.plugin") is not None:
            found.append(importlib.import_module(f"{sub.name}.plugin"))
    return found


def add_commands(app: typer.Typer) -> None:
    """Let every plugin add its commands to `app`."""
    for plugin in plugins():
        if hook := getattr(plugin, "add_commands", None):
            hook(app)


def scoring_observers() -> list["Observer"]:
    """The observers of every plugin that has some."""
    observers: list[Observer] = []
    for plugin in plugins():
        if hook := getattr(plugin, "scoring_observers", None):
            observers.extend(hook())
    return observers
