"""Write the book's first-page findings (book/_verdicts.md, included by book/intro.md) from the
verdict rules and the results files, or check that the committed file is up to date.

    .venv/bin/python scripts/intro_verdicts.py          # rewrite book/_verdicts.md
    .venv/bin/python scripts/intro_verdicts.py --check  # exit status 1 if it is out of date

Run it after changing a rule in scripts/verdicts/ or a results file in book/results/; the
appendix "At the blog's scale" computes the same verdicts and asserts that they agree.
"""
from pathlib import Path
import sys

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS))

import generated_file  # noqa: E402
from verdicts import targets  # noqa: E402

OUT = SCRIPTS.parent / "book" / "_verdicts.md"
HEADER = ("% Written by scripts/intro_verdicts.py from scripts/verdicts/ and book/results/; "
          "do not edit.\n")


def text(results=targets.RESULTS):
    """The file's content for the results files in ``results``."""
    return HEADER + targets.intro_markdown(targets.rows(results))


def main(argv=None):
    return generated_file.main(OUT, text, "intro_verdicts.py", __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
