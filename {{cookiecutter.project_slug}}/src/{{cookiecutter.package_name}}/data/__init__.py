"""The data pipeline: raw (validated) -> refined (clean Parquet) -> curated (features, split)."""
