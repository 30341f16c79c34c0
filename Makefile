# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
RNNLM_DATA ?= $(abspath ../shared/data)
export RNNLM_DATA

.PHONY: demo test lint clean

$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check "$(TORCH)"
	$(BIN)/pip install -q --disable-pip-version-check -e .
	touch $@

$(VENV)/.dev: $(VENV)/.core
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

demo: $(VENV)/.core  ## set up, train the default model on the default corpus, print samples
	$(BIN)/rnnlm demo

test: $(VENV)/.dev  ## set up with dev tools, lint, run the whole suite
	$(BIN)/ruff check src tests
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
