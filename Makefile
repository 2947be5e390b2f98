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

$(PEERS_OUT)/splits/kang/index.json: $(STAMP) configs/kang.yaml
	$(BIN)/trackability bench configs/kang.yaml --export-splits $(PEERS_OUT)/splits/kang

# One thread per peer fit, as for our models (the 2-core machines run one fit per core)
PEER_ENV := OMP_NUM_THREADS=1 XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

.PHONY: peers peers-cellflow peers-scgen
peers-cellflow: $(PEERS_VENV)/cellflow/.installed $(PEERS_OUT)/splits/kang/index.json
	$(PEER_ENV) $(PEERS_VENV)/cellflow/bin/python benchmarks/peers/run_cellflow.py \
	  $(PEERS_OUT)/splits/kang $(PEERS_OUT)/cellflow/kang --seeds $(PEER_SEEDS)

peers-scgen: $(PEERS_VENV)/pertpy/.installed $(PEERS_OUT)/splits/kang/index.json
	$(PEER_ENV) $(PEERS_VENV)/pertpy/bin/python benchmarks/peers/run_pertpy_scgen.py \
	  $(PEERS_OUT)/splits/kang $(PEERS_OUT)/pertpy/kang --seeds $(PEER_SEEDS)

peers: peers-cellflow peers-scgen
	$(BIN)/trackability bench configs/kang_peers.yaml --out results/kang_peers --jobs 2
