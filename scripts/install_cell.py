"""Insert (or update) each chapter's install cell: pip-install sparana_lite where it is missing.

    .venv/bin/python scripts/install_cell.py              # every book/*.ipynb
    .venv/bin/python scripts/install_cell.py book/pruning.ipynb
    .venv/bin/python scripts/install_cell.py --check      # exit 1 if a chapter lacks the cell

Readers who open a chapter on Colab (the launch button) or in any fresh Python have no
sparana_lite; the cell installs it from the repository named in _config.yml (``repository.url``
at ``repository.branch``), the one place the repository is named. Where the package is
importable it does nothing and prints nothing. Until the repository is public
(``sparana_repository_public: false`` in _config.yml) the built pages leave the cell out
(_ext/sparana_site.py); the notebooks keep it.
It looks the package up with ``importlib.util.find_spec`` rather than importing it, so NumPy
and numba are not imported before a chapter's own first cell (the Sparsity chapter sets thread
counts there, before NumPy's first import).

The cell goes right before the first code cell, tagged ``hide-input`` (the built page shows a
collapsed "show code" line, readers can open it) and ``sparana-install`` (how this script
finds it again). Running the script twice changes nothing; a cell whose text is out of date is
replaced. Re-execute the chapters afterwards (scripts/run_chapters.py): the new cell has no
execution count until then.
"""
import argparse
from pathlib import Path
import sys

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
TAG = "sparana-install"
TAGS = ["hide-input", TAG]

TEMPLATE = '''\
# Colab, Binder or a fresh Python: install sparana_lite from the book's repository if missing.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("sparana_lite") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "sparana_lite @ git+{url}@{branch}"],
                   check=True)'''


def cell_source(config=ROOT / "_config.yml"):
    """The install cell's code, for the repository and branch of ``config`` (a _config.yml)."""
    repo = (yaml.safe_load(Path(config).read_text()) or {}).get("repository") or {}
    url, branch = repo.get("url"), repo.get("branch") or "main"
    if not url or not str(url).startswith("https://"):
        raise ValueError(f"{config}: repository.url must be an https:// URL; got {url!r}")
    return TEMPLATE.format(url=str(url).rstrip("/"), branch=branch)


def _is_install_cell(cell):
    return cell.cell_type == "code" and TAG in cell.get("metadata", {}).get("tags", [])


def ensure_cell(path, source, check=False):
    """Make the install cell of notebook ``path`` the first code cell with ``source``.

    Returns "ok" (already there, file untouched), "missing" (``check``: nothing written),
    "inserted" or "updated".
    """
    nb = nbformat.read(path, as_version=4)
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    found = [i for i, c in enumerate(nb.cells) if _is_install_cell(c)]
    if found == [first_code] and nb.cells[first_code].source == source \
            and nb.cells[first_code].metadata.get("tags") == TAGS:
        return "ok"
    if check:
        return "missing"
    for i in reversed(found):
        del nb.cells[i]
    first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(TAGS)})
    if all(c.get("id") != TAG for c in nb.cells):
        cell.id = TAG  # a stable id: re-inserting gives the same file
    nb.cells.insert(first_code, cell)
    nbformat.write(nb, path)
    return "updated" if found else "inserted"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to edit (default: book/*.ipynb)")
    parser.add_argument("--config", type=Path, default=ROOT / "_config.yml",
                        help="the _config.yml naming the repository (default: the book's)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a notebook lacks an up-to-date cell")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or sorted((ROOT / "book").glob("*.ipynb"))
    source = cell_source(args.config)
    bad = 0
    for path in notebooks:
        status = ensure_cell(path, source, check=args.check)
        bad += status == "missing"
        print(f"{status:>8}  {path}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
