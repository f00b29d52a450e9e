"""The training pipeline: train -> evaluate -> quality gate -> register."""
