# Two entry points: `make run` (a mock interview in the terminal) and `make test` (the whole suite).
# Both create or reuse .venv and install exactly what uv.lock pins; nothing is installed by hand.
# `make lock` refreshes the lock to the newest allowed versions; `make test-latest` (not in CI)
# runs the suite against those newest versions in .venv-latest without touching the lock.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
UV_VERSION ?= 0.13.9
UV := $(VENV)/bin/uv
TEST_EXTRAS := --extra dev --extra train --extra eval
ARGS ?= --role backend --kind behavioral --level mid --questions 3

.PHONY: run test install install-test lock test-latest lint clean

$(UV):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)

# --inexact keeps uv, pip and the other extras when a narrower install runs after a wider one.
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --quiet --frozen --inexact
	touch $@

$(VENV)/.installed-test: pyproject.toml uv.lock $(VENV)/.installed
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --quiet --frozen --inexact $(TEST_EXTRAS)
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(VENV)/bin/mockingbird practice $(ARGS)

test: install-test
	$(PY) -m pytest $(PYTEST_ARGS)

lock: | $(UV)
	$(UV) lock --upgrade

test-latest: | $(UV)
	test -x .venv-latest/bin/python || $(PYTHON) -m venv .venv-latest
	$(UV) pip install --quiet --python .venv-latest/bin/python --find-links /opt/wheels --upgrade -e ".[dev,train,eval]"
	.venv-latest/bin/python -m pytest $(PYTEST_ARGS)

lint: install-test
	$(VENV)/bin/ruff check bot chains tasks tests bench

clean:
	rm -rf $(VENV) .venv-latest .pytest_cache
