"""The data pipeline: raw (validated) -> refined (clean Parquet) -> curated (features, split).

`prepare.py` runs it; `ingest.py`, `wrangle.py` and `split.py` are its three steps, and the data
contract they hold the data to is `core/schemas.py`.
"""
