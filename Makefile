# reexport: every target is documented; `make help` lists them.
# Data flows one way: fetch -> data/raw (immutable) -> build -> data/processed -> estimate -> report.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
REEXPORT := $(BIN)/reexport
STAMP := $(VENV)/.installed

.PHONY: help install data build test lint typecheck unit bench clean reproduce

help: ## list every target with a one-line description
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_.-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	@touch $@

install: $(STAMP) ## create .venv and install reexport (editable) with test extras, pinned by constraints.txt

data: $(STAMP) ## fetch the real vintage; offline with nothing stored, write the SYNTHETIC demo vintage (loudly)
	$(REEXPORT) data

build: $(STAMP) ## build tidy tables and study frames in data/processed from the newest raw vintages
	$(REEXPORT) build

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy over the package
	$(BIN)/mypy

unit: $(STAMP) ## pytest only
	$(BIN)/pytest -q

test: lint typecheck unit ## everything CI runs: ruff, mypy, pytest

bench: $(STAMP) ## benchmarks that print side-by-side timings (not tests)
	$(BIN)/python benchmarks/bench_fe.py

clean: ## remove build artefacts and caches (never data/raw)
	rm -rf build *.egg-info .pytest_cache .mypy_cache .ruff_cache
