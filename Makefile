# reexport: every target is documented; `make help` lists them.
# Data flows one way: fetch -> data/raw (immutable) -> build -> data/processed -> estimate -> report.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
REEXPORT := $(BIN)/reexport
STAMP := $(VENV)/.installed
# The data root (raw/ and processed/): DATA_DIR=..., else $REEXPORT_DATA_DIR, else ./data.
DATA_DIR ?= $(or $(REEXPORT_DATA_DIR),data)
DATA_ENV = REEXPORT_DATA_DIR=$(DATA_DIR)

.PHONY: help install data build test lint typecheck unit bench clean reproduce

help: ## list every target with a one-line description
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_.-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	@touch $@

install: $(STAMP) ## create .venv and install reexport (editable) with test extras, pinned by constraints.txt

data: $(STAMP) ## fetch STUDY's inputs (default analyses/porcher2025); offline with nothing stored, write the SYNTHETIC demo vintage (loudly)
	$(DATA_ENV) $(REEXPORT) data $(STUDY)

build: $(STAMP) ## build STUDY's tables and frames in data/processed/<study>/ from the newest raw vintages
	$(DATA_ENV) $(REEXPORT) build $(STUDY)

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy over the package
	$(BIN)/mypy

unit: $(STAMP) ## pytest only
	$(BIN)/pytest -q

test: lint typecheck unit ## everything CI runs: ruff, mypy, pytest

# Extra flags for the battery benchmark, e.g. `make bench BENCH_FLAGS=--quick`.
BENCH_FLAGS ?=
bench: $(STAMP) ## benchmarks that print side-by-side timings (not tests)
	$(BIN)/python benchmarks/bench_fe.py
	$(BIN)/python benchmarks/bench_battery.py $(BENCH_FLAGS)
	$(BIN)/python benchmarks/bench_build.py $(BENCH_FLAGS)

clean: ## remove build artefacts and caches (never data/raw)
	rm -rf build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# --- reproduce: any study folder (default analyses/porcher2025) ---------------------------
# A chain of targets: raw store -> processed frames -> results JSON -> report, for the study
# folder STUDY (its study.toml declares requests, frames and estimates; docs/study_format.md).
# A second `make reproduce` with nothing changed does no work.  Overridable:
#   STUDY (a study folder, default analyses/porcher2025), DATA_DIR (data root, default
#   $REEXPORT_DATA_DIR or data), STUDY_OUT (default $(STUDY)/output),
#   REPRODUCE_DATA_FLAGS (e.g. --offline: never touch the network, demo if nothing stored),
#   DEMO=1: a demo-only run that never touches the network: the data step writes (or
#   reuses) the SYNTHETIC demo vintage (`reexport demo`; on a fresh clone that is what
#   `reexport data --offline` does) and the build is `reexport build --vintage demo`, even
#   when real vintages are stored.  Switching DEMO on or off rebuilds from the build on.
STUDY ?= analyses/porcher2025
STUDY_OUT ?= $(STUDY)/output
REPRODUCE_DATA_FLAGS ?=
DEMO ?=
REPRO_MODE := $(if $(DEMO),demo,auto)
REPRO_STAMPS := $(STUDY_OUT)/.stamps
REPRO_DATA_STAMP := $(REPRO_STAMPS)/$(if $(DEMO),demo-data,data)
REPRO_DATA_COMMAND = $(if $(DEMO),demo $(STUDY),data $(STUDY) $(REPRODUCE_DATA_FLAGS))
REPRO_MODE_STAMP := $(REPRO_STAMPS)/vintage-$(REPRO_MODE)
REPRO_BUILD_STAMP := $(REPRO_STAMPS)/build
REPRO_ESTIMATE_STAMP := $(REPRO_STAMPS)/estimate
REPRO_ENV = $(DATA_ENV)
# New raw vintages (e.g. `make data` with network, `reexport import-series`) rebuild the chain.
REPRO_RAW = $(wildcard $(DATA_DIR)/raw/*/*/manifest.json)
REPRO_BUILD_CODE := $(wildcard reexport/panel.py reexport/study.py reexport/store.py reexport/periods.py reexport/sources/*.py)
REPRO_MODEL_CODE := $(wildcard reexport/models/*.py)
REPRO_REPORT_CODE := $(wildcard reexport/report/*.py)
REPRO_SPECS = $(wildcard $(STUDY)/specs/*.toml)
REPRO_RESULTS = $(wildcard $(STUDY_OUT)/results/*.json)

$(REPRO_DATA_STAMP): | $(STAMP)
	@mkdir -p $(@D)
	$(REPRO_ENV) $(REEXPORT) $(REPRO_DATA_COMMAND)
	@touch $@

# Which vintages the last build used (auto or demo): a switch of DEMO rebuilds.
$(REPRO_MODE_STAMP):
	@mkdir -p $(@D)
	@rm -f $(REPRO_STAMPS)/vintage-*
	@touch $@

# The study's frames go to $(DATA_DIR)/processed/<study name>/ (one swapped set per study).
$(REPRO_BUILD_STAMP): $(REPRO_DATA_STAMP) $(REPRO_MODE_STAMP) $(STUDY)/study.toml $(REPRO_RAW) $(REPRO_BUILD_CODE) | $(STAMP)
	$(REPRO_ENV) $(REEXPORT) build $(STUDY) --vintage $(REPRO_MODE)
	@touch $@

# Every [[estimate]] of the study: $(STUDY_OUT)/results/<name>.json.
$(REPRO_ESTIMATE_STAMP): $(REPRO_BUILD_STAMP) $(REPRO_SPECS) $(REPRO_MODEL_CODE) | $(STAMP)
	@mkdir -p $(STUDY_OUT)/results
	$(REPRO_ENV) $(REEXPORT) estimate $(STUDY) --output $(STUDY_OUT)/results
	@touch $@

$(STUDY_OUT)/report.md: $(REPRO_ESTIMATE_STAMP) $(REPRO_RESULTS) $(STUDY)/report.toml $(wildcard $(STUDY)/*.json) $(REPRO_REPORT_CODE) | $(STAMP)
	$(REPRO_ENV) $(REEXPORT) report $(STUDY) --output $(STUDY_OUT) --results $(STUDY_OUT)/results
	@touch $@

reproduce: $(STUDY_OUT)/report.md ## data, build, estimate, report for STUDY=analyses/NAME (default analyses/porcher2025; offline: demo; DEMO=1: the demo only)
