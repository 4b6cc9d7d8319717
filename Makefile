# The two set-up commands of the README. Each creates .venv (if missing), installs the
# project from its own files, then runs the main job or the test suite (after building the
# documentation site with warnings as errors).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The main job: the flagship example on its embedded default data.
MAIN_JOB ?= examples/zappos_retrieval.py
# Where `make test` / `make docs` build the site (ignored by git).
SITE_DIR ?= site

.PHONY: demo test install install-test lint docs figures report

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install -e ".[test,docs]"

demo: install
	$(BIN)/python $(MAIN_JOB) $(ARGS)

test: install-test
	$(BIN)/python -m ruff check .
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --site-dir $(SITE_DIR)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# The documentation site, built as CI builds it; `$(BIN)/mkdocs serve` previews it live.
docs: install-test
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --site-dir $(SITE_DIR)

# The documentation's figures (docs/figures/*.png) from a run of the main job at its defaults
# (about 4 minutes on 2 CPU cores); `ARGS="--from-dir outputs/zappos_retrieval"` reuses a run.
figures: install
	$(BIN)/python docs/_build/make_figures.py $(ARGS)

lint: install-test
	$(BIN)/python -m ruff check .

# The reproduction report (Zhao Tables 1, 3, 6 on the embedded data): docs/reproduction/.
report: install
	$(BIN)/python benchmarks/reproduction_report.py $(ARGS)
