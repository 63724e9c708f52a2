# Two commands on a fresh machine: `make demo` (the local backend on the bundled example build)
# and `make test` (lint, type checks, template checks and the whole test suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The IAM policy evaluator the tests' strict local backend uses (Node.js, package-lock.json pinned).
EVALUATOR := client/nsclient/local/iam_evaluator

.PHONY: install dev demo test unit lint format validate build deploy benchmark pr clean

$(STAMP): pyproject.toml $(EVALUATOR)/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	npm ci --prefix $(EVALUATOR) --no-audit --no-fund --loglevel=error
	touch $(STAMP)

install: $(STAMP)

dev: install

demo: $(STAMP)
	$(BIN)/nsclient demo

test: lint validate unit

unit: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

validate: $(STAMP)
	$(BIN)/cfn-lint template.yaml

benchmark: $(STAMP)
	$(BIN)/python benchmarks/run.py

# AWS: needs the SAM CLI (pip install aws-sam-cli, in its own environment) and credentials.
build:
	sam build

deploy: build
	sam deploy --guided

pr: test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam
