"""Re-execute chapters in place so their committed outputs are fresh (for authors, not CI).

    .venv/bin/python scripts/run_chapters.py book/building-sparana.ipynb [...]
    .venv/bin/python scripts/run_chapters.py --all
    .venv/bin/python scripts/run_chapters.py --all --seed 1 --out /tmp/seed1

Runs each notebook top to bottom in a fresh kernel from book/, stores the widget state (so the
built book can show widgets), and reports the wall time. Commit the notebooks afterwards; the
test suite re-runs them with nbval and compares the outputs marked NBVAL_CHECK_OUTPUT.

``--seed N`` sets ``SPARANA_BOOK_SEED`` (see ``sl.zoo.book_seed``) for the kernel, so the
chapter trains and samples with another seed; such runs must go to ``--out DIR``, never over
the committed notebooks. They print each chapter's claims table and say whether its asserts
held: that is how the tolerances of the claims are checked across seeds.
"""
import argparse
import os
from pathlib import Path
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]


def run(path, timeout, out=None, allow_errors=False):
    """Execute ``path``; write it to ``out`` (default: in place). Returns (seconds, error, nb);
    with ``allow_errors`` every cell runs and ``error`` lists the cells that raised."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            allow_errors=allow_errors,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError as e:
        if out is None:
            raise
        error = str(e).strip().splitlines()[-1]
    if allow_errors:
        raised = [i for i, cell in enumerate(nb.cells)
                  if any(o.get("output_type") == "error" for o in cell.get("outputs", []))]
        error = f"cells {raised} raised" if raised else None
    nbformat.write(nb, out or path)
    return time.perf_counter() - start, error, nb


def claims_tables(nb):
    """The Markdown claims tables that a notebook's cells displayed."""
    tables = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            text = output.get("data", {}).get("text/markdown", "")
            if text.lstrip().startswith("| Claim"):
                tables.append(text)
    return tables


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--all", action="store_true", help="every notebook in book/")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--seed", type=int, help="SPARANA_BOOK_SEED for the kernel (needs --out)")
    parser.add_argument("--out", type=Path, help="write executed copies here, not in place")
    parser.add_argument("--allow-errors", action="store_true",
                        help="run every cell even after one raises (needs --out): shows every "
                             "value a failing claims assert would have checked")
    args = parser.parse_args()
    paths = sorted((ROOT / "book").glob("*.ipynb")) if args.all else args.notebooks
    if not paths:
        parser.error("name notebooks or pass --all")
    if args.seed is not None:
        if args.out is None:
            parser.error("--seed needs --out: the committed chapters are run with seed 0")
        os.environ["SPARANA_BOOK_SEED"] = str(args.seed)
    if args.allow_errors and args.out is None:
        parser.error("--allow-errors needs --out")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in paths:
        path = path.resolve()
        out = None if args.out is None else args.out.resolve() / path.name
        seconds, error, nb = run(path, args.timeout, out, args.allow_errors)
        print(f"{path.name}: {seconds:.1f} s" + (f"  FAILED: {error}" if error else ""), flush=True)
        failed += error is not None
        if args.out is not None:
            for table in claims_tables(nb):
                print(table, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
