# Two commands for a fresh machine (see README): `make up` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: up test install install-test install-bench bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"

up: install
	$(BIN)/mealtwin up

test: install-test
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

install-bench: $(BIN)/python
	$(BIN)/pip install -q -e ".[bench]"

bench: install-bench
	$(BIN)/mealtwin bench ingest --json
	$(BIN)/mealtwin bench ingest --json --postgres

clean:
	rm -rf var .pytest_cache
