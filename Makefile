# Entry points: `make demo` runs the product end to end, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-$(shell cat pyproject.toml package.json lambdas/requirements.txt 2>/dev/null | sha1sum | cut -c1-12)
# Checkov pins an older boto3 than the project: it gets its own virtual environment.
CHECKOV_VENV := .venv-checkov
CHECKOV_REQUIREMENTS := .ci/checkov-requirements.txt
CHECKOV_STAMP := $(CHECKOV_VENV)/.setup-$(shell cat $(CHECKOV_REQUIREMENTS) 2>/dev/null | sha1sum | cut -c1-12)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: setup checkov-setup test checkov unit lint synth bench demo clean

setup: $(STAMP)

$(STAMP): pyproject.toml package.json lambdas/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[cdk,dev,demo]'
	npm install --no-audit --no-fund --loglevel=error
	$(BIN)/python -m stacks.lambda_bundle
	rm -f $(VENV)/.setup-* && touch $@

checkov-setup: $(CHECKOV_STAMP)

$(CHECKOV_STAMP): $(CHECKOV_REQUIREMENTS)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install -q -r $(CHECKOV_REQUIREMENTS)
	rm -f $(CHECKOV_VENV)/.setup-* && touch $@

# NOVA_CPT_REQUIRE_CHECKOV=1: the checkov gate fails, instead of skipping, when checkov is missing.
test: setup checkov-setup
	NOVA_CPT_REQUIRE_CHECKOV=1 $(BIN)/python -m pytest

checkov: setup checkov-setup
	NOVA_CPT_REQUIRE_CHECKOV=1 $(BIN)/python -m pytest tests/test_checkov_gate.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy novacpt lambdas stacks app.py

synth: setup
	rm -rf cdk.out
	cdk synth --quiet --app '$(BIN)/python app.py' --output cdk.out
	@ls cdk.out/*.template.json

demo: setup
	$(BIN)/cpt demo

bench: setup
	$(BIN)/python -m bench.dataset_bench
	$(BIN)/python -m bench.fanout_bench

clean:
	rm -rf cdk.out .build .pytest_cache .mypy_cache .ruff_cache
