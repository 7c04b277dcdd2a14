"""The chapters' run times on the book's first page (book/_timings.md, written by
scripts/chapter_times.py from the execution timestamps of the committed notebooks)."""
import json
from pathlib import Path

import pytest

from tests.scripts import import_script

ROOT = Path(__file__).resolve().parents[1]
chapter_times = import_script("chapter_times")


def code_cell(start=None, end=None, count=1, source="x = 1"):
    execution = {}
    if start:
        execution["iopub.execute_input"] = start
    if end:
        execution["iopub.status.idle"] = end
    return {"cell_type": "code", "execution_count": count, "source": [source],
            "metadata": {"execution": execution} if execution else {}, "outputs": []}


def notebook(*cells, title="# A chapter"):
    return {"cells": [{"cell_type": "markdown", "source": [title], "metadata": {}}, *cells]}


def test_intro_includes_the_timings_and_they_are_up_to_date():
    assert "```{include} _timings.md" in (ROOT / "book" / "intro.md").read_text()
    assert chapter_times.main(["--check"]) == 0, "run `python scripts/chapter_times.py`"


def test_every_chapter_of_the_toc_is_timed():
    text = (ROOT / "book" / "_timings.md").read_text()
    assert text.startswith(chapter_times.HEADER)
    for path in chapter_times.chapters():
        title, _, _, _ = chapter_times.notebook_times(json.loads(path.read_text()), path.name)
        assert f"| {title} | " in text, title


def test_time_is_the_sum_of_the_cells_times():
    nb = notebook(code_cell("2026-01-01T10:00:00.000Z", "2026-01-01T10:00:02.500Z"),
                  code_cell("2026-01-01T10:00:03.000Z", "2026-01-01T10:01:03.000Z"),
                  code_cell(count=None),           # never executed: skipped
                  code_cell(count=None, source=""))  # empty: skipped
    title, seconds, start, end = chapter_times.notebook_times(nb)
    assert title == "A chapter" and seconds == pytest.approx(62.5)
    assert (end - start).total_seconds() == pytest.approx(63.0)


def test_shell_execute_reply_stands_in_for_status_idle():
    cell = code_cell("2026-01-01T10:00:00Z")
    cell["metadata"]["execution"]["shell.execute_reply"] = "2026-01-01T10:00:04Z"
    assert chapter_times.notebook_times(notebook(cell))[1] == pytest.approx(4.0)


def test_a_notebook_without_timestamps_is_an_error_that_names_it():
    with pytest.raises(chapter_times.MissingTimestamps, match="lost.ipynb has no executed"):
        chapter_times.notebook_times(notebook(code_cell(count=None)), "lost.ipynb")


def test_an_executed_cell_without_timestamps_is_an_error_that_names_it():
    nb = notebook(code_cell("2026-01-01T10:00:00Z", "2026-01-01T10:00:01Z"), code_cell())
    with pytest.raises(chapter_times.MissingTimestamps, match="half.ipynb, cell 2"):
        chapter_times.notebook_times(nb, "half.ipynb")


def test_overlapping_runs_are_marked(tmp_path):
    a = tmp_path / "a.ipynb"
    b = tmp_path / "b.ipynb"
    c = tmp_path / "c.ipynb"
    a.write_text(json.dumps(notebook(code_cell("2026-01-01T10:00:00Z", "2026-01-01T10:05:00Z"),
                                     title="# A")))
    b.write_text(json.dumps(notebook(code_cell("2026-01-01T10:04:00Z", "2026-01-01T10:05:00Z"),
                                     title="# B")))
    c.write_text(json.dumps(notebook(code_cell("2026-01-02T10:00:00Z", "2026-01-02T11:10:00Z"),
                                     title="# C")))
    text = chapter_times.text([a, b, c])
    assert "| A | 5 min 00 s (*) |" in text and "| B | 1 min 00 s (*) |" in text
    assert "| C | 1 h 10 min |" in text
    assert "| **Total** | **1 h 16 min** |" in text
    assert "(2026-01-01 to 2026-01-02)" in text


def test_check_fails_on_a_stale_file(tmp_path, monkeypatch):
    stale = tmp_path / "_timings.md"
    stale.write_text(chapter_times.text().replace("**Total**", "**All**"))
    monkeypatch.setattr(chapter_times, "OUT", stale)
    assert chapter_times.main(["--check"]) == 1
    assert chapter_times.main([]) == 0 and chapter_times.main(["--check"]) == 0
