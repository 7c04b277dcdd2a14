"""The book's structure: the table of contents and book/ agree; committed notebooks are clean."""
import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def toc_files():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))
            for part in entry.get("chapters", []) if "chapters" in entry else []:
                walk([part])
    walk(toc.get("chapters", []))
    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return files


def pages():
    return sorted(p for p in BOOK.rglob("*") if p.suffix in (".md", ".ipynb")
                  and ".ipynb_checkpoints" not in p.parts and not p.name.startswith("_"))


def test_toc_and_book_folder_agree():
    listed = {str((ROOT / f).with_suffix("")) for f in toc_files()}
    present = {str(p.with_suffix("")) for p in pages()}
    assert listed - present == set(), "in _toc.yml but not in book/"
    assert present - listed == set(), "in book/ but not in _toc.yml"


def test_toc_groups_every_chapter_into_a_captioned_part():
    """The sidebar shows parts (Foundations, Forgetting, ...): no chapter outside a part, each
    part captioned and non-empty, no page listed twice."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert toc["format"] == "jb-book" and "chapters" not in toc, "chapters must sit in parts"
    captions = [part.get("caption") for part in toc["parts"]]
    assert all(captions) and len(set(captions)) == len(captions), captions
    assert all(part.get("chapters") for part in toc["parts"]), "an empty part"
    files = toc_files()
    assert len(files) == len(set(files)), "a page listed twice"


def test_toc_order_is_the_intros_reading_order():
    """The sidebar lists the chapters in the order of the intro's chapter table (in
    _verdicts.md, which the intro includes) and then its appendices."""
    table = [line for line in (BOOK / "_verdicts.md").read_text().splitlines()
             if line.startswith("| [")]
    text = "\n".join(table) + (BOOK / "intro.md").read_text().split("## Appendices", 1)[1]
    linked = []
    for link in [part.split(")")[0] for part in text.split("](")[1:]]:
        if not link.startswith("http") and link not in linked:
            linked.append(link)
    listed = [Path(f).name for f in toc_files()[1:]]
    assert [Path(link).stem for link in linked] == listed


def test_intro_links_only_existing_chapters():
    text = (BOOK / "intro.md").read_text() + (BOOK / "_verdicts.md").read_text()
    for p in pages():
        if p.suffix == ".ipynb":
            assert f"({p.name})" in text, f"book/intro.md does not link {p.name}"
    for link in [part.split(")")[0] for part in text.split("](")[1:]]:
        if not link.startswith("http"):
            assert (BOOK / link).exists(), f"book/intro.md links a missing page {link}"


@pytest.mark.parametrize("path", [p for p in pages() if p.suffix == ".ipynb"], ids=lambda p: p.name)
def test_every_figure_has_alt_text(path):
    """A figure's alt text (cell metadata ``mystnb: image: alt:``) says what it shows, for
    readers who cannot see it; without it the page would read out a hashed file name."""
    for cell in json.loads(path.read_text())["cells"]:
        if any("image/png" in o.get("data", {}) for o in cell.get("outputs", [])):
            alt = cell["metadata"].get("mystnb", {}).get("image", {}).get("alt", "")
            assert len(alt) >= 40 and '"' not in alt, (cell.get("id"), alt)


@pytest.mark.parametrize("path", [p for p in pages() if p.suffix == ".ipynb"], ids=lambda p: p.name)
def test_notebook_committed_executed_and_clean(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert code, "a chapter without code"
    counts = [c["execution_count"] for c in code]
    assert None not in counts, "a code cell was never executed"
    assert counts == sorted(counts), "cells were run out of order"
    for c in code:
        assert not any(o.get("output_type") == "error" for o in c.get("outputs", [])), \
            "a committed cell holds an error"
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"
