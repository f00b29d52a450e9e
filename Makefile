# The template's task runner: `make test` is what CI runs (.ci/run).
.DEFAULT_GOAL := help
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3
UV ?= $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
BIN := .venv/bin

.PHONY: help install lint test test-fast bench demo clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet uv

install: $(if $(filter .tools/bin/uv,$(UV)),.tools/bin/uv) ## Create .venv with the template's test tools
	$(UV) sync --frozen
	@if [ -d .git ]; then $(BIN)/pre-commit install; fi

# Only hooks/, tests/ and benchmarks/: the Jinja tree is not Python until rendered, so the tests
# lint what it bakes instead.
lint: install ## Lint and type-check the hooks, tests and benchmarks
	$(BIN)/ruff check hooks tests benchmarks
	$(BIN)/ruff format --check hooks tests benchmarks
	$(BIN)/mypy

test: lint ## Everything CI runs: every level baked, each baked project's own gate, climbing
	$(BIN)/pytest -n 2 --durations=10

test-fast: lint ## The tests without the slow ones (installs, baked gates, climbing)
	$(BIN)/pytest -n 2 -m "not slow"

BENCH_ARGS ?=
bench: install ## Our server vs `mlflow models serve` on a freshly baked, trained project
	$(BIN)/python benchmarks/serving.py $(BENCH_ARGS)

demo: install ## Bake a project with the defaults into build/ and run its demo
	rm -rf build && $(BIN)/cookiecutter --no-input --output-dir build .
	$(MAKE) -C build/penguin-classifier install demo

clean: ## Remove build output and environments
	rm -rf build .venv .tools
