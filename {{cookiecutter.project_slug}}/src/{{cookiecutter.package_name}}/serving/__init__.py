"""Serving: the scoring API (`app.py`), batch scoring (`batch.py`) and the smoke test of a
running server (`smoke.py`), all on the model's exported form (`core/predictor.py`)."""
