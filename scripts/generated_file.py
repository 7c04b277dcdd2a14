"""The command line of a script that writes one generated file of the book (``--check`` only
compares): shared by ``intro_verdicts.py`` (book/_verdicts.md) and ``chapter_times.py``
(book/_timings.md)."""
import argparse


def main(out, text, script, description, argv=None):
    """Write ``text()`` to ``out``, or with ``--check`` return 1 if ``out`` differs from it."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="only check that the file is current")
    args = parser.parse_args(argv)
    new = text()
    if args.check:
        current = out.read_text() if out.exists() else None
        if current != new:
            print(f"{out} is out of date: run `python scripts/{script}`")
            return 1
        print(f"{out} is up to date")
        return 0
    out.write_text(new)
    print(f"wrote {out}")
    return 0
