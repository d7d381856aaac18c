# heco_pyg: `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU wheel; a bare `torch` would pull a multi-GB CUDA build.
TORCH  ?= torch==2.13.0
export WANDB_MODE ?= offline
export WANDB_SILENT ?= true

.PHONY: help install train test test-slow lint format bench clean

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH)" -e ".[dev]"
	touch $@

install: $(BIN)/.installed  ## create .venv and install the package with its test tools

train: install  ## train HeCo on the built-in synthetic graph (offline; 1-10 min by load, see README)
	$(BIN)/python -m heco_pyg.train model=heco data=synthetic $(ARGS)

test: install  ## run the fast test suite
	$(BIN)/python -m pytest -q $(ARGS)

test-slow: install  ## run the slow tests too
	$(BIN)/python -m pytest -q -m "slow or not slow" $(ARGS)

lint: install  ## ruff check and format check
	$(BIN)/ruff check heco_pyg tests scripts
	$(BIN)/ruff format --check heco_pyg tests scripts

format: install  ## ruff format and fix
	$(BIN)/ruff format heco_pyg tests scripts
	$(BIN)/ruff check --fix heco_pyg tests scripts

bench: install  ## run the benchmarks (see BENCHMARKS.md)
	$(BIN)/python scripts/bench.py $(ARGS)

clean:  ## remove outputs, caches and the virtual environment
	rm -rf outputs multirun .pytest_cache .ruff_cache $(VENV)
