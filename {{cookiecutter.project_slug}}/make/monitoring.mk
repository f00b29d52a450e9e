# Level 2 (monitoring): drift of new data from the champion's training set.
.PHONY: drift

CURRENT ?= $(firstword $(wildcard data/raw/*.csv))
drift: ## Drift of CURRENT (CSV or Parquet) from the champion's training set, to reports/drift/
	$(CLI) drift $(CURRENT)
