"""Write how long each chapter took in its committed run (book/_timings.md, included by
book/intro.md) from the execution timestamps in the notebooks, or check that the file is current.

    .venv/bin/python scripts/chapter_times.py          # rewrite book/_timings.md
    .venv/bin/python scripts/chapter_times.py --check  # exit status 1 if it is out of date

Run it after re-executing chapters (scripts/run_chapters.py). A chapter's time is the sum of its
code cells' times, each from ``iopub.execute_input`` to ``iopub.status.idle`` (or, without
that, ``shell.execute_reply``) in the cell's ``metadata.execution``, which nbclient and Jupyter
record; kernel start-up is not counted. Cells never executed (no execution count) are skipped;
an executed cell without timestamps is an error, since its time is unknown.
"""
from datetime import datetime
import json
from pathlib import Path
import sys

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generated_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
OUT = BOOK / "_timings.md"
HEADER = ("% Written by scripts/chapter_times.py from the execution timestamps of the committed "
          "notebooks; do not edit.\n")


class MissingTimestamps(ValueError):
    """A notebook, or an executed cell of it, carries no execution timestamps."""


def _moment(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def cell_interval(cell):
    """(start, end) of a code cell's execution as datetimes, or None for a cell never executed.

    Raises MissingTimestamps for an executed cell without timestamps."""
    if cell.get("execution_count") is None and not cell.get("metadata", {}).get("execution"):
        return None
    execution = cell.get("metadata", {}).get("execution", {})
    start = execution.get("iopub.execute_input")
    end = execution.get("iopub.status.idle") or execution.get("shell.execute_reply")
    if start is None or end is None:
        raise MissingTimestamps("an executed cell has no execution timestamps "
                                "(metadata.execution: iopub.execute_input and iopub.status.idle)")
    start, end = _moment(start), _moment(end)
    if end < start:
        raise ValueError(f"a cell ends ({end}) before it starts ({start})")
    return start, end


def notebook_times(nb, name="notebook"):
    """(title, seconds, start, end) of one notebook (a dict as read from its JSON): the sum of
    its code cells' times, the first cell's start and the last cell's end."""
    title = None
    intervals = []
    for index, cell in enumerate(nb["cells"]):
        source = "".join(cell.get("source", []))
        if title is None and cell["cell_type"] == "markdown" and source.lstrip().startswith("# "):
            title = source.lstrip()[2:].splitlines()[0].strip()
        if cell["cell_type"] != "code" or not source.strip():
            continue
        try:
            interval = cell_interval(cell)
        except MissingTimestamps as e:
            raise MissingTimestamps(
                f"{name}, cell {index}: {e}; execute the notebook with "
                "scripts/run_chapters.py (nbclient records them)") from None
        if interval is not None:
            intervals.append(interval)
    if not intervals:
        raise MissingTimestamps(f"{name} has no executed code cell with execution timestamps; "
                                "execute it with scripts/run_chapters.py")
    seconds = sum((end - start).total_seconds() for start, end in intervals)
    return title or name, seconds, min(s for s, _ in intervals), max(e for _, e in intervals)


def chapters():
    """The notebooks of _toc.yml, in its order (the intro and Markdown pages left out)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = []

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))
    walk(toc.get("chapters", []))
    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return [ROOT / f"{f}.ipynb" for f in files if (ROOT / f"{f}.ipynb").exists()]


def duration(seconds):
    """'42 s', '4 min 05 s' or '1 h 02 min' (rounded to whole seconds or minutes)."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def overlapping(rows):
    """The titles of chapters whose runs overlapped in time with another chapter's run."""
    found = set()
    for i, (a, _, a0, a1) in enumerate(rows):
        for b, _, b0, b1 in rows[i + 1:]:
            if a0 < b1 and b0 < a1:
                found.update((a, b))
    return [r[0] for r in rows if r[0] in found]


def text(paths=None):
    """The file's content for the notebooks ``paths`` (default: the chapters of _toc.yml)."""
    paths = chapters() if paths is None else paths
    rows = [notebook_times(json.loads(Path(p).read_text()), Path(p).name) for p in paths]
    total = sum(r[1] for r in rows)
    first = min(r[2] for r in rows).strftime("%Y-%m-%d")
    last = max(r[3] for r in rows).strftime("%Y-%m-%d")
    dates = first if first == last else f"{first} to {last}"
    shared = overlapping(rows)
    lines = [HEADER,
             f"The committed runs of the chapters ({dates}) took **{duration(total)}** in all, "
             "counting the time their cells ran (not the kernel's start-up):\n",
             "| Chapter | Run time |", "|---|---:|"]
    lines += [f"| {title} | {duration(seconds)}{' (*)' if title in shared else ''} |"
              for title, seconds, _, _ in rows]
    lines.append(f"| **Total** | **{duration(total)}** |")
    if shared:
        lines += ["", "(*) This run overlapped in time with another chapter's run. Runs that "
                  "share a machine can wait for its cores, so these times may be longer than a "
                  "run on its own would take."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    return generated_file.main(OUT, text, "chapter_times.py", __doc__.splitlines()[0], argv)


if __name__ == "__main__":
    sys.exit(main())
