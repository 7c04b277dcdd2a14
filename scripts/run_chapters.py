"""Re-execute chapters in place so their committed outputs are fresh (for authors, not CI).

    .venv/bin/python scripts/run_chapters.py book/building-sparana.ipynb [...]
    .venv/bin/python scripts/run_chapters.py --all

Runs each notebook top to bottom in a fresh kernel from book/, stores the widget state (so the
built book can show widgets), and reports the wall time. Commit the notebooks afterwards; the
test suite re-runs them with nbval and compares the outputs marked NBVAL_CHECK_OUTPUT.
"""
import argparse
from pathlib import Path
import sys
import time

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def run(path, timeout):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--all", action="store_true", help="every notebook in book/")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args()
    paths = sorted((ROOT / "book").glob("*.ipynb")) if args.all else args.notebooks
    if not paths:
        parser.error("name notebooks or pass --all")
    for path in paths:
        print(f"{path}: {run(path.resolve(), args.timeout):.1f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
