"""Write the book's first-page findings (book/_verdicts.md, included by book/intro.md) from the
verdict rules and the results files, or check that the committed file is up to date.

    .venv/bin/python scripts/intro_verdicts.py          # rewrite book/_verdicts.md
    .venv/bin/python scripts/intro_verdicts.py --check  # exit status 1 if it is out of date

Run it after changing a rule in scripts/verdicts/ or a results file in book/results/; the
appendix "At the blog's scale" computes the same verdicts and asserts that they agree.
"""
import argparse
from pathlib import Path
import sys

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

from verdicts import targets  # noqa: E402

OUT = SCRIPTS.parent / "book" / "_verdicts.md"
HEADER = ("% Written by scripts/intro_verdicts.py from scripts/verdicts/ and book/results/; "
          "do not edit.\n")


def text(results=targets.RESULTS):
    """The file's content for the results files in ``results``."""
    return HEADER + targets.intro_markdown(targets.rows(results))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that the file is current")
    args = parser.parse_args(argv)
    new = text()
    if args.check:
        current = OUT.read_text() if OUT.exists() else None
        if current != new:
            print(f"{OUT} is out of date: run `python scripts/intro_verdicts.py`")
            return 1
        print(f"{OUT} is up to date")
        return 0
    OUT.write_text(new)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
