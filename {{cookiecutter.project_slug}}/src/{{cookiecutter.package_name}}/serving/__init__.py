"""Serving: predictions from a registered model, for people, batch jobs and (soon) an API."""
