# Set-up and checks. `make setup` makes .venv with the CPU build of torch, then the project.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup test lint format bench lab

setup:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e ".[dev]"

test: lint
	$(BIN)/python -m pytest -q

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench:
	$(BIN)/python benchmarks/bench_augment.py

# JupyterLab on the notebooks; the notebooks read results and never train unless
# TINYBERT_RUN_MISSING=1 is set (see README, "Notebooks").
lab:
	$(BIN)/jupyter lab notebooks/
