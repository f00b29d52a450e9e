{% set platform = "GitHub" if cookiecutter.ci_platform == "github" else "Azure DevOps" -%}
# Level 1 (automation): the one-time set-up of Azure and {{ platform }} for the CI/CD.
.PHONY: bootstrap

ARGS ?= --dry-run
bootstrap: ## Set up Azure and {{ platform }} once (ARGS="" to run it; default: print the commands)
	$(BIN)/python scripts/bootstrap.py $(ARGS)
