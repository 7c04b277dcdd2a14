# The two commands of the README: `make book` (the main job) and `make test`.
# Each creates .venv on first use and installs the project with what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: book test demo reproduce clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,book]"
	touch $@

book: $(VENV)/.installed
	$(VENV)/bin/jupyter-book build . -W
	@echo "The book is in _build/html/index.html"

demo: $(VENV)/.installed
	$(PY) -m sparana_lite

test: $(VENV)/.installed
	$(PY) -m pytest --nbval-lax --nbval-current-env --durations=10 tests book

clean:
	rm -rf _build .pytest_cache .hypothesis

# The blog's full-size runs (minutes to hours on a CPU); results go to book/results/.
reproduce: $(VENV)/.installed
	$(PY) scripts/reproduce.py
