# The template's task runner: `make test` is what CI runs (.ci/run).
.DEFAULT_GOAL := help
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
UV ?= $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
BIN := .venv/bin

.PHONY: help install lint test demo clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet uv

install: $(if $(filter .tools/bin/uv,$(UV)),.tools/bin/uv) ## Create .venv with the template's test tools
	$(UV) sync --frozen

# Only hooks/ and tests/: the Jinja tree is not Python until rendered, so the tests lint bakes.
lint: install ## Lint the hooks and tests
	$(BIN)/ruff check hooks tests
	$(BIN)/ruff format --check hooks tests

test: lint ## Bake every level and run each baked project's own lint and tests
	$(BIN)/pytest -n 2 --durations=10

demo: install ## Bake a project with the defaults into build/ and run its demo
	rm -rf build && $(BIN)/cookiecutter --no-input --output-dir build .
	$(MAKE) -C build/penguin-classifier install demo

clean: ## Remove build output and environments
	rm -rf build .venv .tools
