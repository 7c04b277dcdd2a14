"""Every target's verdict from the results files (scripts/verdicts/targets.py), and the book's
first page, which lists them (book/_verdicts.md, written by scripts/intro_verdicts.py)."""
import json
from pathlib import Path
import shutil

import pytest

from tests.scripts import import_script

ROOT = Path(__file__).resolve().parents[1]
targets = import_script("verdicts.targets")
verdicts = import_script("verdicts")
intro_verdicts = import_script("intro_verdicts")


@pytest.fixture(scope="module")
def table():
    return targets.rows()


def test_every_target_has_a_verdict_with_a_label_and_a_chapter(table):
    assert [r["target"] for r in table] == list(range(1, 20))
    for r in table:
        assert r["label"] in verdicts.LABELS and r["verdict"].startswith(r["label"])
        assert (ROOT / "book" / f"{r['chapter']}.ipynb").exists(), r
        assert len(r["claim"]) <= 80, "keep the claim short: the first page is read on phones"
    assert sum(targets.counts(table).values()) == 19


def test_reproduced_only_where_the_blog_reports_a_result(table):
    for r in table:
        assert ("reproduced" in r["label"]) == r["blog_figure"], r
    # the targets the blog only states, leaves unfinished, or that we inferred
    assert {r["target"] for r in table if not r["blog_figure"]} >= {3, 9, 14, 18, 19}


def test_chapter_titles_are_the_notebooks_titles():
    for name, title in targets.CHAPTERS.items():
        cells = json.loads((ROOT / "book" / f"{name}.ipynb").read_text())["cells"]
        first = next("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        heading = first.splitlines()[0].lstrip("# ").strip()
        assert heading == title, (name, heading)


def test_a_changed_results_file_changes_the_verdict(tmp_path):
    """The verdicts are computed, not stored: three LQ models 0.3 points short of the blog's
    0.9848 turn target 1 'not reproduced'."""
    results = tmp_path / "results"
    shutil.copytree(ROOT / "book" / "results", results)
    path = results / "lq-sce-mnist.json"
    record = json.loads(path.read_text())
    longest = max(r["steps"] for r in record["results"]["runs"])
    for r in record["results"]["runs"]:
        if r["steps"] == longest:
            r["lq"]["test_accuracy"] = 0.9818
    path.write_text(json.dumps(record))
    assert targets.verdicts()[1].startswith("reproduced")
    assert targets.verdicts(results)[1] == "not reproduced"


def test_missing_results_file_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="reproduce.py lq-sce-mnist"):
        targets.verdicts(tmp_path)


def test_intro_includes_the_verdicts_and_they_are_up_to_date():
    assert "```{include} _verdicts.md" in (ROOT / "book" / "intro.md").read_text()
    assert intro_verdicts.main(["--check"]) == 0, "run `python scripts/intro_verdicts.py`"


def test_intro_lists_every_chapter_with_targets_and_every_verdict(table):
    text = (ROOT / "book" / "_verdicts.md").read_text()
    for r in table:
        assert f"({r['target']}) {r['claim']}: **{r['label']}**" in text
    for name in targets.CHAPTERS:
        assert f"]({name}.ipynb)" in text


def test_intro_table_shows_every_chapter_with_its_verdicts(table):
    """The first page's chapter table: every chapter of the book (the appendices aside), in
    the order of the navigation, under its own heading, with the short verdict of each of its
    targets."""
    text = (ROOT / "book" / "_verdicts.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| [")]
    toc = [line.split("book/")[1] for line in (ROOT / "_toc.yml").read_text().splitlines()
           if "file: book/" in line and "at-the-blogs-scale" not in line
           and "running-on-a-gpu" not in line]
    assert [row.split("](")[1].split(".ipynb")[0] for row in rows] == toc
    for r in table:
        row = next(row for row in rows if f"]({r['chapter']}.ipynb)" in row)
        assert f"[{r['title']}]" in row and f"({r['target']}) {r['label']}" in row.split(" | ")[-1]


def test_check_fails_on_a_stale_intro(tmp_path, monkeypatch):
    stale = tmp_path / "_verdicts.md"
    stale.write_text(intro_verdicts.text().replace("**held**", "**reproduced**"))
    monkeypatch.setattr(intro_verdicts, "OUT", stale)
    assert intro_verdicts.main(["--check"]) == 1
    assert intro_verdicts.main([]) == 0 and intro_verdicts.main(["--check"]) == 0
