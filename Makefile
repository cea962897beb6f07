# The quick start: `make demo` runs the demo, `make test` runs the tests.
# Each creates .venv with the pinned versions in constraints.txt on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test test-unit bench-extraction bench-throughput clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "newsflow needs Python 3.11 or newer: make PYTHON=python3.12 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/newsflow demo

test: $(STAMP)
	$(BIN)/python -m pytest

# The edit-test loop: no PostgreSQL, no HTTP server, no Prefect (seconds, not minutes).
test-unit: $(STAMP)
	$(BIN)/python -m pytest -m "not integration"

bench-extraction: $(STAMP)
	$(BIN)/python bench/extraction.py --jobs 2

bench-throughput: $(STAMP)
	$(BIN)/python bench/throughput.py --articles 2000 --feeds 50

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
