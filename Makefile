# Fermion: `make run` starts the server on the embedded store; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/fermion serve

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .fermion .mypy_cache .ruff_cache .pytest_cache

# The npm clients of the compatibility tests (Web SDK, Node SDK), from the committed lockfile.
COMPAT_JS := tests/compat/js
$(COMPAT_JS)/node_modules/.installed: $(COMPAT_JS)/package.json $(COMPAT_JS)/package-lock.json
	cd $(COMPAT_JS) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

pytest: $(COMPAT_JS)/node_modules/.installed
