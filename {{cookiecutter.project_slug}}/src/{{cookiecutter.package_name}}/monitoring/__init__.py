"""Drift detection (level 2): is the data the model sees still like the data it learned from?

The metrics and thresholds are those of Azure ML model monitoring's data drift signal, computed
the way its monitoring component computes them, so that `make drift` on a laptop and the
monitor on the endpoint give the same verdict on the same data.
"""
