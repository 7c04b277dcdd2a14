"""Publishing: the Pages workflow builds with the README's command, launch buttons, install cells."""
import json
from pathlib import Path
import subprocess
import sys

import nbformat
import pytest
import yaml

from .scripts import import_file

ROOT = Path(__file__).resolve().parents[1]


install_cell = import_file(ROOT / "scripts" / "install_cell.py")


# ------------------------------------------------------------------------ the workflow
def test_pages_workflow_runs_make_book_and_deploys():
    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    triggers = wf.get("on", wf.get(True))        # YAML 1.1 reads a bare `on` as True
    assert "main" in triggers["push"]["branches"]
    assert {"pages": "write", "id-token": "write"}.items() <= wf["permissions"].items()
    build = wf["jobs"]["build"]["steps"]
    uses = [s.get("uses", "") for s in build]
    assert any(u.startswith("actions/checkout@") for u in uses)
    python = next(s for s in build if s.get("uses", "").startswith("actions/setup-python@"))
    assert str(python["with"]["python-version"]) == "3.11"
    runs = [s["run"].strip() for s in build if "run" in s]
    assert "make book" in runs                    # exactly the README's command
    assert "make book" in (ROOT / "README.md").read_text()
    upload = next(s for s in build if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert any(s.get("uses", "").startswith("actions/deploy-pages@") for s in deploy["steps"])


def test_config_has_the_repository_and_launch_buttons():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]
    assert repo["url"].startswith("https://github.com/") and repo["branch"] == "main"
    assert "path_to_book" in repo
    buttons = config["launch_buttons"]
    assert buttons["binderhub_url"] == "https://mybinder.org"
    assert buttons["colab_url"] == "https://colab.research.google.com"


# ------------------------------------------------------------------- the install cell
@pytest.fixture
def book_copy(tmp_path):
    """Two chapters copied into a temp dir without their install cells (one whose first cell
    is code, one markdown)."""
    names = ["pruning.ipynb", "removing-activations-longboy.ipynb"]
    for name in names:
        nb = nbformat.read(ROOT / "book" / name, as_version=4)
        nb.cells = [c for c in nb.cells if not install_cell._is_install_cell(c)]
        nbformat.write(nb, tmp_path / name)
    return [tmp_path / n for n in names]


def test_every_chapter_has_the_current_install_cell():
    """Fails when a chapter lacks the cell or holds an out-of-date one (run the script)."""
    chapters = sorted((ROOT / "book").glob("*.ipynb"))
    assert chapters and install_cell.main(["--check"] + [str(p) for p in chapters]) == 0


def _cells(path):
    return json.loads(path.read_text())["cells"]


def test_install_cell_is_inserted_once_before_the_first_code_cell(book_copy):
    source = install_cell.cell_source()
    before = {p: _cells(p) for p in book_copy}
    assert install_cell.main([str(p) for p in book_copy]) == 0
    for p in book_copy:
        cells = _cells(p)
        first = next(i for i, c in enumerate(before[p]) if c["cell_type"] == "code")
        new = cells[first]
        assert new["cell_type"] == "code" and "".join(new["source"]) == source
        assert new["metadata"]["tags"] == ["hide-input", "sparana-install"]
        assert "remove-cell" not in new["metadata"]["tags"]
        assert new["outputs"] == [] and new["execution_count"] is None
        assert new["id"] == "sparana-install"
        assert cells[:first] + cells[first + 1:] == before[p]      # nothing else changed
    text = {p: p.read_bytes() for p in book_copy}
    assert install_cell.main([str(p) for p in book_copy]) == 0     # idempotent
    assert {p: p.read_bytes() for p in book_copy} == text
    assert install_cell.main(["--check"] + [str(p) for p in book_copy]) == 0


def test_check_reports_missing_and_stale_cells_and_update_replaces(book_copy, tmp_path):
    path = book_copy[0]
    assert install_cell.ensure_cell(path, "x = 1", check=True) == "missing"
    assert install_cell.ensure_cell(path, "x = 1") == "inserted"
    assert install_cell.ensure_cell(path, "x = 2") == "updated"
    nb = nbformat.read(path, as_version=4)
    assert sum(install_cell._is_install_cell(c) for c in nb.cells) == 1
    assert next(c for c in nb.cells if c.cell_type == "code").source == "x = 2"
    config = tmp_path / "_config.yml"
    config.write_text("repository:\n  url: https://example.org/r\n  branch: dev\n")
    assert "git+https://example.org/r@dev" in install_cell.cell_source(config)
    config.write_text("title: no repository\n")
    with pytest.raises(ValueError, match="repository.url"):
        install_cell.cell_source(config)


def test_install_cell_is_silent_when_the_package_is_present():
    """The cell's code, run where sparana_lite is installed, prints nothing and imports no NumPy."""
    code = install_cell.cell_source() + "\nassert 'numpy' not in sys.modules\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "" and out.stderr == ""
