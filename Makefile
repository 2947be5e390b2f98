# Every target sets itself up on a fresh machine: a virtual environment in .venv with the exact
# versions of requirements/ci.txt (the one place where versions are pinned). torch is installed
# first, exactly 2.13.0, so nothing can pull a multi-GB CUDA build.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out/demo
PYTEST_ARGS ?= -n 2

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml requirements/ci.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements/ci.txt torch
	$(BIN)/python -m pip install --quiet -c requirements/ci.txt -e ".[dev,neural,distributed,scale]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/trackability demo --quick --out $(OUT)

# lint-imports checks the layer contract of pyproject.toml ([tool.importlinter]).
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache

# The documentation site: API reference from the docstrings, tutorials executed at build (a failing
# cell fails the build). Output: docs/_build/html/index.html.
DOCS_STAMP := $(VENV)/.installed-docs

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c requirements/ci.txt -e ".[docs]"
	touch $(DOCS_STAMP)

.PHONY: docs
docs: $(DOCS_STAMP)
	$(BIN)/python -m sphinx -b html -j 1 -q docs docs/_build/html

# Peers scored by our harness (docs/peers.md): each external tool in its own virtual environment
# OUTSIDE the repository (PEERS_VENV), run on the harness's exported splits; their predictions
# (results/peers/<tool>/<config>) are scored by the `external` method of configs/kang_peers.yaml.
# python3.12, or pyenv's 3.12 interpreter where the python3.12 shim has no version selected
PY312 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) python3.12)
PEERS_VENV ?= ../peers-venv
PEERS_OUT ?= results/peers
PEER_SEEDS ?= 0,1,2,3,4

$(PEERS_VENV)/cellflow/.installed:
	$(PY312) -m venv $(PEERS_VENV)/cellflow
	$(PEERS_VENV)/cellflow/bin/python -m pip install --quiet cellflow-tools==0.0.9 requests
	touch $@

# pertpy 1.4.0's Scgen is JAX (the scgen extra: flax, numpyro, optax, ott-jax): no torch is pulled
$(PEERS_VENV)/pertpy/.installed:
	$(PY312) -m venv $(PEERS_VENV)/pertpy
	$(PEERS_VENV)/pertpy/bin/python -m pip install --quiet "pertpy[scgen]==1.4.0"
	touch $@

# Splits of each peer config's source config (configs/<c>.yaml; scored by configs/<c>_peers.yaml)
$(PEERS_OUT)/splits/%/index.json: $(STAMP) configs/%.yaml
	$(BIN)/trackability bench configs/$*.yaml --export-splits $(PEERS_OUT)/splits/$*

# One thread per peer fit, as for our models (the 2-core machines run one fit per core)
PEER_ENV := OMP_NUM_THREADS=1 XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
# Configs the peers run on, and the tasks of each (empty: all): on Sachs the block-1 tasks, the
# ones with neural rows
PEER_CONFIGS ?= kang sachs
PEER_TASKS_kang ?=
PEER_TASKS_sachs ?= block1/cd3cd28+aktinhib,block1/cd3cd28+g0076,block1/cd3cd28+psitect,block1/cd3cd28+u0126,block1/cd3cd28+ly
peer_tasks = $(if $(PEER_TASKS_$(1)),--tasks $(PEER_TASKS_$(1)))
PEER_SPLITS := $(foreach c,$(PEER_CONFIGS),$(PEERS_OUT)/splits/$(c)/index.json)

.PHONY: peers peers-cellflow peers-scgen
peers-cellflow: $(PEERS_VENV)/cellflow/.installed $(PEER_SPLITS)
	$(foreach c,$(PEER_CONFIGS),$(PEER_ENV) $(PEERS_VENV)/cellflow/bin/python \
	  benchmarks/peers/run_cellflow.py $(PEERS_OUT)/splits/$(c) $(PEERS_OUT)/cellflow/$(c) \
	  --seeds $(PEER_SEEDS) $(call peer_tasks,$(c)) &&) true

peers-scgen: $(PEERS_VENV)/pertpy/.installed $(PEER_SPLITS)
	$(foreach c,$(PEER_CONFIGS),$(PEER_ENV) $(PEERS_VENV)/pertpy/bin/python \
	  benchmarks/peers/run_pertpy_scgen.py $(PEERS_OUT)/splits/$(c) $(PEERS_OUT)/pertpy/$(c) \
	  --seeds $(PEER_SEEDS) $(call peer_tasks,$(c)) &&) true

peers: peers-cellflow peers-scgen
	$(foreach c,$(PEER_CONFIGS),$(BIN)/trackability bench configs/$(c)_peers.yaml \
	  --out results/$(c)_peers --jobs 2 &&) true
