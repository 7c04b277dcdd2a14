# The two commands of the README: `make book` (the main job) and `make test`.
# Each creates .venv on first use and installs the project with what it needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# Exact versions of everything the book and tests use, so that a new NumPy, SciPy, numba or
# OpenBLAS release cannot change the committed chapters silently. Regenerate with `make lock`.
LOCK   := requirements.lock

.PHONY: book test demo reproduce lock clean

$(VENV)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

book: $(VENV)/.installed
	$(VENV)/bin/jupyter-book build . -W
	@echo "The book is in _build/html/index.html"

demo: $(VENV)/.installed
	$(PY) -m sparana_lite

test: $(VENV)/.installed
	$(PY) -m pytest --nbval-lax --nbval-current-env --durations=10 tests book

# Re-resolve requirements.lock from pyproject.toml's test and book extras (needs the network).
lock:
	$(PYTHON) -m pip install --quiet --target .cache/uv uv
	.cache/uv/bin/uv pip compile pyproject.toml --extra test --extra book --universal \
	    --python-version 3.10 --custom-compile-command "make lock" -o $(LOCK)

clean:
	rm -rf _build .pytest_cache .hypothesis

# The blog's full-size runs (minutes to hours on a CPU); results go to book/results/.
# JOBS=N: a task graph on N Dask worker processes (cores/N threads each); 1: one after the other.
JOBS ?= 1
reproduce: $(VENV)/.installed
	$(PY) scripts/reproduce.py --jobs $(JOBS)
