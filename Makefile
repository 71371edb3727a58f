# mnist_lab: `make` lists the targets. Every target creates .venv first if it is missing.
.DEFAULT_GOAL := help
SHELL := /bin/bash

# The first Python that TensorFlow 2.21 and the pins support (3.11 to 3.13); 3.11 is what CI runs.
SUPPORTED_PYTHON := import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))
PYTHON_BOOTSTRAP ?= $(firstword $(foreach p,python3.11 python3.12 python3.13 python3,$(shell command -v $(p) >/dev/null 2>&1 && $(p) -c '$(SUPPORTED_PYTHON)' 2>/dev/null && command -v $(p))))
VENV ?= .venv
BIN := $(VENV)/bin
# Stamp file: the install is redone when the pins or the package metadata change.
INSTALLED := $(VENV)/.installed

STAGE ?= cnn_bn_aug
SEEDS ?= 0-3
BUDGET ?=
JOBS ?= 1
EPOCHS ?=
SUBSET ?=
TRAIN_ARGS := --stage $(STAGE) $(if $(EPOCHS),--epochs $(EPOCHS)) $(if $(SUBSET),--subset $(SUBSET))

# Hide TensorFlow's C++ start-up notices.
export TF_CPP_MIN_LOG_LEVEL ?= 2

# Reports: PROFILE=full (the seed's protocol, reports/) or PROFILE=quick (reports-quick/).
# The profiles' settings live in mnist_lab/runs/settings.py (PROFILES, REPORT_DIRS) and nowhere else.
PROFILE ?= full
REPORTS_full := reports
REPORTS_quick := reports-quick
REPORTS := $(REPORTS_$(PROFILE))
ifeq ($(REPORTS),)
$(error unknown PROFILE '$(PROFILE)': use PROFILE=full or PROFILE=quick)
endif
FORCE ?=

# notebooks/NN_name.py is executed into $(REPORTS)/name/NN_name.ipynb (00_data -> data/, ...), in
# the order of NN: 00_data, one per stage (01-89), 90_comparison, 91_robustness (the rule is
# mnist_lab.report.runner.find_notebooks; adding a stage renumbers nothing).
NOTEBOOKS := $(basename $(notdir $(wildcard notebooks/[0-9][0-9]_*.py)))

.PHONY: help env data stages train seeds campaign select verify lint format sync test test-unit nbval-refresh bench gpu-wheels gpu-rehearsal models clean reproduce reproduce-quick $(NOTEBOOKS)

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-15s %s\n", $$1, $$2}'
	@echo "  Variables: STAGE=$(STAGE) (make stages lists them), EPOCHS=, SUBSET=, SEEDS=$(SEEDS), JOBS=$(JOBS),"
	@echo "             PROFILE=$(PROFILE) (full or quick), FORCE=1 (rerun notebooks whose inputs are unchanged)"
	@echo "  One notebook: $(foreach n,$(NOTEBOOKS),make $(n) ·) [PROFILE=quick] [FORCE=1]"

$(INSTALLED): requirements.txt pyproject.toml
	@test -n "$(PYTHON_BOOTSTRAP)" || { echo "no Python 3.11 to 3.13 found: install one (TensorFlow 2.21 supports these)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON_BOOTSTRAP) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

env: $(INSTALLED) ## Create .venv with the pinned requirements and mnist_lab
	@echo "environment ready: $(VENV) ($$($(BIN)/python --version))"

data: $(INSTALLED) ## Fetch and verify MNIST into data/ and say where it came from
	$(BIN)/mnist-lab data

stages: $(INSTALLED) ## List the stages
	@$(BIN)/mnist-lab stages

train: $(INSTALLED) ## Train STAGE: its protocol reads (or trains) reports/STAGE, a tweak goes to runs/STAGE-HASH (e.g. make train STAGE=dnn EPOCHS=2)
	$(BIN)/mnist-lab train $(TRAIN_ARGS)

seeds: $(INSTALLED) ## Train every stage (or STAGE=name only) over SEEDS into reports/seeds/ (hours; resumable; JOBS=2: two at once; PROFILE=quick: reports-quick/seeds/, minutes)
	$(BIN)/mnist-lab sweep $(if $(filter command line environment,$(origin STAGE)),--stage $(STAGE)) --seeds $(SEEDS) --jobs $(JOBS) --profile $(PROFILE)

# The campaign fixed in docs/campaign-2026-12.md before its first run: change nothing here once runs exist.
campaign: $(INSTALLED) ## Issue 49's seed campaign, as fixed in docs/campaign-2026-12.md (about 12 CPU-hours; resumable; JOBS=, BUDGET=seconds)
	$(BIN)/mnist-lab sweep --stage dnn --seeds 4-12 --jobs $(JOBS) $(if $(BUDGET),--budget $(BUDGET))
	$(BIN)/mnist-lab sweep --stage cnn_reg --stage cnn_bn --stage cnn_bn_aug --seeds 4-9 --jobs $(JOBS) $(if $(BUDGET),--budget $(BUDGET))

select: $(INSTALLED) ## Train the longer-budget candidates for cnn_bn_aug into reports/selection/ (hours; test set never evaluated)
	$(BIN)/mnist-lab select

verify: $(INSTALLED) ## Train one fresh seed of STAGE (a full-protocol run: about an hour on 2 cores) and check it against its band
	$(BIN)/mnist-lab verify --stage $(STAGE)

lint: $(INSTALLED) ## ruff: lint and format check (a test checks the notebook pairs; make sync fixes them)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

sync: $(INSTALLED) ## Pair each notebooks/*.py with its .ipynb (jupytext; outputs are never stored)
	$(BIN)/jupytext --sync notebooks/*.py

NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval/sanitize.cfg --nbval-cell-timeout 900

# The tests run in a temporary copy of the project (tests/in_copy.py): they read and write only what
# they create, never your reports-quick/, runs/ or reports/. Each notebook says when it starts and ends.
IN_COPY := $(BIN)/python tests/in_copy.py

test: lint ## What CI runs: lint, unit tests, nbval on every notebook (quick profile), in a copy of the project (measured on 2 idle AMD EPYC cores, fresh clone: 31 min, venv install included; pytest 29 min, the 9 notebooks 5 of it)
	$(IN_COPY) $(NBVAL) tests
	@# The golden runs again on other CPU kernels: their values must not depend on them (tests/golden.py).
	TF_ENABLE_ONEDNN_OPTS=0 $(IN_COPY) -q tests/test_golden.py -k training_computes

test-unit: $(INSTALLED) ## Only the unit tests, tiny training runs included, in a copy of the project (not timed alone: about 23 min of make test's 29 of pytest on 2 idle cores)
	$(IN_COPY) tests --ignore=tests/nbval

nbval-refresh: $(INSTALLED) ## Re-execute the notebooks into tests/nbval/ after an intended change of their output
	$(BIN)/mnist-lab nbval-refresh

bench: $(INSTALLED) ## Sharpness of the augmentation; training throughput against the matmul peak; a whole epoch against its steps (a quarter of an hour on 2 cores)
	$(BIN)/python benchmarks/augmentation_sharpness.py
	$(BIN)/python benchmarks/augmentation_throughput.py --full-epoch

# What an offline GPU machine with Python 3.12 and JAX (gpu/machine-requirements.txt) lacks, at this repository's pinned versions
# (typing_extensions for optree and absl-py for Keras may be there already: carried to be sure, 0.3 MB).
GPU_WHEELS := keras namex optree typing_extensions absl-py
gpu-wheels: $(INSTALLED) ## Download the wheels a GPU machine lacks into .whl/, for gpu/sweep.sh (docs/scaling.md)
	$(BIN)/python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
	    $(foreach w,$(GPU_WHEELS),$(shell grep -i '^$(w)==' requirements.txt))
	@ls .whl

gpu-rehearsal: gpu-wheels ## Rehearse an offline GPU sweep on this CPU: Python 3.12 with only JAX, no TensorFlow (docs/scaling.md)
	bash gpu/rehearse.sh

# One process runs every notebook in order, each skipped when its inputs (by content) are
# unchanged; the per-notebook targets below do the same for one. MNIST is fetched and verified
# the first time a notebook needs it (on a fresh clone, none does: every report is current).
reproduce: $(INSTALLED) ## Run every notebook with papermill into reports/, skipping those whose inputs are unchanged (PROFILE=quick: reports-quick/)
	$(BIN)/mnist-lab notebook $(sort $(NOTEBOOKS)) --profile $(PROFILE) $(if $(FORCE),--force)
	@echo "reports: $(REPORTS)/README.md"

reproduce-quick: ## The same notebooks on a small subset, 2 epochs, into reports-quick/ (the pipeline check)
	@$(MAKE) --no-print-directory reproduce PROFILE=quick

# One target per notebook. The runner decides what is stale, by content: the notebook, the
# package, the run it shows, the stage it is compared with, the seeds and results it reads
# (mnist_lab.report.runner.fingerprint), so make keeps no dependencies of its own.
$(NOTEBOOKS): $(INSTALLED) ## (each notebook by name, e.g. make 02_cnn [PROFILE=quick] [FORCE=1])
	$(BIN)/mnist-lab notebook $@ --profile $(PROFILE) $(if $(FORCE),--force)

models: $(INSTALLED) ## Restore the stage runs' model.keras from git history (reports/models.json)
	$(BIN)/mnist-lab models

clean: ## Remove caches and ad-hoc runs (keeps .venv, data/ and reports/)
	rm -rf runs .pytest_cache
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
