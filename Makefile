# The two set-up commands of the README. Each creates .venv (if missing), installs the
# project from its own files, then runs the main job or the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The main job: the flagship example on its embedded default data.
MAIN_JOB ?= examples/zappos_retrieval.py

.PHONY: demo test install install-test lint report

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install -e ".[test]"

demo: install
	$(BIN)/python $(MAIN_JOB) $(ARGS)

test: install-test
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

lint: install-test
	$(BIN)/python -m ruff check .

# The reproduction report (Zhao Tables 1, 3, 6 on the embedded data): docs/reproduction/.
report: install
	$(BIN)/python benchmarks/reproduction_report.py $(ARGS)
