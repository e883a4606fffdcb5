# Two entry points: `make run` (a mock interview in the terminal) and `make test` (the whole suite).
# Both create or reuse .venv and install what they need; nothing else must be installed by hand.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?= --role backend --kind behavioral --level mid --questions 3

.PHONY: run test install install-test lint clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q -e ".[dev,train,eval]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(VENV)/bin/mockingbird practice $(ARGS)

test: install-test
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-test
	$(VENV)/bin/ruff check bot chains tasks tests bench

clean:
	rm -rf $(VENV) data .pytest_cache
