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
