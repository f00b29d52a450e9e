"""The ASGI app that uvicorn serves (`serve`, the image, an Azure ML online deployment): the
scoring API of `serving/app.py`, with the observers of the optional parts (`plugins.py`)."""

from .core.settings import ServingSettings
from .plugins import scoring_observers
from .serving import app
from .serving.middleware import RequestContext


def create_app() -> RequestContext:
    """uvicorn's factory: the settings and the model come from the environment (MODEL_URI...)."""
    return app.create_app(ServingSettings(), scoring_observers())
