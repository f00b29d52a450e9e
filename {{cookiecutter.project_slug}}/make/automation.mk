# Level 1 (automation): the one-time set-up of Azure and GitHub for the workflows.
.PHONY: bootstrap

ARGS ?= --dry-run
bootstrap: ## Set up Azure and GitHub once (ARGS="" to run it; default: print the commands)
	$(BIN)/python scripts/bootstrap.py $(ARGS)
