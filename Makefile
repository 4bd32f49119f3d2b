# Two entry points: `make run` (the main job) and `make test` (every check).
# Both create ./.venv from the system Python on first use, so a fresh machine needs only Python 3.11+.
# Also: `make sandbox`, `make demo`, `make doctor` (the same `imagebot` subcommands, from ./.venv/bin/imagebot).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test sandbox demo doctor clean

$(BIN)/imagebot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/imagebot
	$(BIN)/imagebot

test: $(BIN)/imagebot
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

sandbox: $(BIN)/imagebot
	$(BIN)/imagebot sandbox

demo: $(BIN)/imagebot
	$(BIN)/imagebot demo

doctor: $(BIN)/imagebot
	$(BIN)/imagebot doctor

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
