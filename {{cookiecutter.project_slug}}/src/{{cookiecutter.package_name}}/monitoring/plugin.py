"""How monitoring plugs into the project's entry points (`plugins.py` finds this module): the
`drift` and `should-retrain` commands for the CLI, and Azure ML's data collector, which sees
every request the server scores when the deployment collects data."""

from .collector import scoring_observers
from .commands import add_commands

__all__ = ["add_commands", "scoring_observers"]
