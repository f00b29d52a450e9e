# Level 2 (monitoring): drift of new data from the champion's training set.
.PHONY: drift drift-bench

CURRENT ?= $(firstword $(wildcard data/raw/*.csv))
drift: ## Drift of CURRENT (CSV or Parquet) from the champion's training set, to reports/drift/
	$(CLI) drift $(CURRENT)

RUNS ?= 100
drift-bench: ## False alarms and misses of `make drift` on this project's data (after train)
	$(BIN)/python scripts/drift_bench.py --runs $(RUNS)
