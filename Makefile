# The two commands of the README: `make book` (the main job) and `make test`.
# Each creates .venv on first use and installs the project with what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: book test demo clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,book]"
	touch $@

book: demo

demo: $(VENV)/.installed
	$(PY) -m sparana_lite

test: $(VENV)/.installed
	$(PY) -m pytest

clean:
	rm -rf _build .pytest_cache .hypothesis
