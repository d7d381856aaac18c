# heco_pyg: `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch, chosen here (README "Install"): the tested release, from TORCH_INDEX when set
# (https://download.pytorch.org/whl/cpu for the CPU build, .../whl/cu126 for CUDA 12.6;
# empty: pip's index, where on Linux PyPI's torch is the CUDA build).
TORCH  ?= torch==2.13.0
TORCH_INDEX ?=
# The tested versions of every dependency (`make constraints` rewrites it from .venv).
CONSTRAINTS ?= constraints.txt
# The extras installed in .venv: the test tools, faiss and optuna, whose tests run in CI.
EXTRAS ?= dev,faiss,optuna
# `make test-floors`: the lowest allowed versions (pyproject.toml's floors) in their own venv,
# without extras (faiss-cpu needs numpy >= 1.25, above the numpy floor: its tests skip there).
FLOORS_VENV ?= .venv-floors
# Old releases call what newer releases of their own dependencies deprecate (matplotlib 3.7
# and pyparsing 3.3's parseString): deprecations are `make test`'s concern, not this one's.
FLOORS_WARNINGS ?= -W ignore::DeprecationWarning -W ignore::PendingDeprecationWarning
FLOORS_TESTS ?= tests/nn tests/training tests/data/test_metapaths.py tests/data/test_positives.py \
	tests/config tests/test_train.py tests/retrieval $(FLOORS_KNOWN)
# torch 2.4-2.5 (at least) fail an internal assert in embedding_bag's backward when its
# per_sample_weights need a gradient and its table does not: only this test's constant
# neighbours do that; in training both need one (tests/test_train.py passes there).
FLOORS_KNOWN ?= --deselect tests/nn/test_attention.py::test_node_attention_weights_sum_to_one_per_node
export WANDB_MODE ?= offline
export WANDB_SILENT ?= true

.PHONY: help install constraints train test test-slow test-cuda test-floors lint format bench clean

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-12s %s\n", $$1, $$2}'

# Bytecode is compiled at install (pip's default) although --no-compile would make torch's
# install 44 s -> 11 s: where PYTHONDONTWRITEBYTECODE is set (this project's machines),
# nothing would ever cache it and every command would compile its imports again (~15 s).
$(BIN)/.installed: pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[$(EXTRAS)]"
	$(BIN)/pip check
	touch $@

install: $(BIN)/.installed  ## create .venv and install the package, its test tools and the tested versions

constraints: install  ## rewrite constraints.txt from the versions installed in .venv
	$(BIN)/python scripts/constraints.py > $(CONSTRAINTS)

train: install  ## train HeCo on the built-in synthetic graph (offline; 1-2 min, see README)
	$(BIN)/python -m heco_pyg.train model=heco data=synthetic $(ARGS)

test: install  ## run the fast test suite
	$(BIN)/python -m pytest -q $(ARGS)

test-slow: install  ## run the slow tests too (the wheel install test among them)
	$(BIN)/python -m pytest -q -m "slow or not slow" $(ARGS)

test-cuda: install  ## run the GPU tests (skipped without CUDA)
	$(BIN)/python -m pytest -q -m cuda -rs $(ARGS)

# The floors are pinned together (scripts/floors.py) in a venv of their own; torch's floor
# comes from TORCH_INDEX like `make install`'s. Several GB on a first run (PyPI's torch is
# the CUDA build; TORCH_INDEX=https://download.pytorch.org/whl/cpu avoids that).
test-floors: install  ## run the core tests with the lowest allowed versions (pyproject floors)
	test -x $(FLOORS_VENV)/bin/python || $(PYTHON) -m venv $(FLOORS_VENV)
	$(BIN)/python scripts/floors.py > $(FLOORS_VENV)/floors.txt
	$(FLOORS_VENV)/bin/pip install --quiet -c $(FLOORS_VENV)/floors.txt "torch" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(FLOORS_VENV)/bin/pip install --quiet -c $(FLOORS_VENV)/floors.txt -e ".[dev]"
	$(FLOORS_VENV)/bin/pip check
	$(FLOORS_VENV)/bin/python -m pytest -q -p no:cacheprovider $(FLOORS_WARNINGS) $(FLOORS_TESTS) $(ARGS)

lint: install  ## ruff check and format check, mypy (pyproject [tool.mypy])
	$(BIN)/ruff check heco_pyg hydra_plugins tests scripts
	$(BIN)/ruff format --check heco_pyg hydra_plugins tests scripts
	$(BIN)/mypy  # heco_pyg and hydra_plugins (pyproject [tool.mypy])

format: install  ## ruff format and fix
	$(BIN)/ruff format heco_pyg hydra_plugins tests scripts
	$(BIN)/ruff check --fix heco_pyg hydra_plugins tests scripts

bench: install  ## run the benchmarks (see BENCHMARKS.md)
	$(BIN)/python scripts/bench.py $(ARGS)

clean:  ## remove outputs, caches and the virtual environment
	rm -rf outputs multirun .pytest_cache .ruff_cache .mypy_cache $(VENV) $(FLOORS_VENV)
