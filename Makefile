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
# node_modules/.bin comes first: the CDK CLI and the CDK's Python bindings (jsii) run on the Node.js LTS
# that package.json pins, not on whatever `node` the machine has.
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
# The stacks `make deploy` creates and `make destroy` removes, in the order they are destroyed.
STACKS_DESTROY_ORDER := NovaCptPipeline NovaCptCluster NovaCptStorage
DEPLOY_OUTPUTS := cdk.out/deploy-outputs.json
RETAINED := .destroy-retained.txt
LIFECYCLE := $(BIN)/python -m novacpt_cli.lifecycle

.PHONY: setup checkov-setup test checkov unit lint synth deploy destroy bench demo mutate clean

setup: $(STAMP)

$(STAMP): pyproject.toml package.json lambdas/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[cdk,dev,demo]'
	npm install --no-audit --no-fund --loglevel=error
	$(BIN)/python -m stacks.shared.bundling
	rm -f $(VENV)/.setup-* && touch $@

checkov-setup: $(CHECKOV_STAMP)

$(CHECKOV_STAMP): $(CHECKOV_REQUIREMENTS)
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install -q -r $(CHECKOV_REQUIREMENTS)
	rm -f $(CHECKOV_VENV)/.setup-* && touch $@

# NOVA_CPT_REQUIRE_CHECKOV=1: the checkov gate fails, instead of skipping, when checkov is missing.
# Prints the branch coverage of the runtime (novacpt and the handlers): reported, not gated.
COVERAGE := --cov=novacpt --cov=lambdas --cov-branch --cov-report=term-missing:skip-covered
# The order is random (pytest-randomly); `make test SEED=N` replays the order a run printed.
ifndef SEED
SEED := $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
endif
# Two worker processes (pytest-xdist) share the tests, one per core of the 2-core CI machine;
# `make test WORKERS=0` runs them in this process (a traceback of a hang is easier to read there).
WORKERS ?= 2
test: setup checkov-setup
	@echo "test order: make test SEED=$(SEED)"
	NOVA_CPT_REQUIRE_CHECKOV=1 $(BIN)/python -m pytest -n $(WORKERS) --randomly-seed=$(SEED) $(COVERAGE)

checkov: setup checkov-setup
	NOVA_CPT_REQUIRE_CHECKOV=1 $(BIN)/python -m pytest tests/infra/test_checkov_gate.py

# The fast unit suite: no synthesis, no emulator, no state-machine execution.
unit: setup
	$(BIN)/python -m pytest tests/unit -p no:cacheprovider

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy novacpt novacpt_cli novacpt_dev lambdas stacks app.py

synth: setup
	rm -rf cdk.out
	cdk synth --quiet --app '$(BIN)/python app.py' --output cdk.out
	@ls cdk.out/*.template.json

# Bootstrap the account and region if needed, deploy every stack, print where things are.
deploy: setup
	@rc=0; $(LIFECYCLE) bootstrapped || rc=$$?; \
	if [ $$rc = 1 ]; then cdk bootstrap; elif [ $$rc != 0 ]; then exit $$rc; fi
	@mkdir -p cdk.out
	cdk deploy --all --require-approval broadening --outputs-file $(DEPLOY_OUTPUTS)
	@$(LIFECYCLE) outputs $(DEPLOY_OUTPUTS)

# Refuses while a run is RUNNING; pipeline, then cluster, then storage; lists what is retained.
# FORCE=1 skips cdk's confirmation of each stack.
destroy: setup
	@$(LIFECYCLE) preflight-destroy
	@$(LIFECYCLE) retained $(RETAINED)
	@for stack in $(STACKS_DESTROY_ORDER); do cdk destroy $(if $(FORCE),--force) $$stack || exit $$?; done
	@cat $(RETAINED) 2>/dev/null; rm -f $(RETAINED)

demo: setup
	$(BIN)/cpt demo

bench: setup
	$(BIN)/python -m bench.dataset_bench
	$(BIN)/python -m bench.fanout_bench
	$(BIN)/python -m bench.quality_bench
	$(BIN)/python -m bench.lambda_asset

# Mutation testing of the modules where a bug costs money or data ([tool.mutmut] in pyproject.toml says which,
# and with which tests; tests/MUTANTS.md explains the survivors). Not part of `make test`: it takes hours.
# One worker, niced: the CDK tests share one jsii process, and the machine is shared. The last line printed
# is `mutation score: K/N killed`; mutants/run.log has mutmut's own output.
mutate: setup
	rm -rf mutants && mkdir mutants
	NOVA_CPT_SHARED=$(abspath $(CURDIR)/../shared) nice -n 10 $(BIN)/mutmut run --max-children 1 > mutants/run.log 2>&1 \
		|| { tail -n 30 mutants/run.log; exit 1; }
	@$(BIN)/python -m novacpt_dev.mutation_score

clean:
	rm -rf cdk.out .build .pytest_cache .mypy_cache .ruff_cache bench/out mutants
