"""The book's Sphinx extension (_ext/sparana_site.py), without a build: nbval markers are
stripped from shown code cells only, install cells and launch buttons go while the repository is
not public, and MathJax's files come from an installed package."""
from pathlib import Path

from docutils import nodes
from docutils.utils import new_document
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
import pytest
import yaml

from .scripts import import_file

ROOT = Path(__file__).resolve().parents[1]


site = import_file(ROOT / "_ext" / "sparana_site.py")


# ------------------------------------------------------------------------ nbval's markers
@pytest.mark.parametrize("code, shown", [
    ("# NBVAL_CHECK_OUTPUT\nprint(1)", "print(1)"),
    ("# NBVAL_IGNORE_OUTPUT\n\nexplorer", "explorer"),            # no blank line left on top
    ("x = 1\n# NBVAL_SKIP\ny = 2", "x = 1\ny = 2"),
    ("   #NBVAL_RAISES_EXCEPTION\nraise ValueError", "raise ValueError"),
    ("# NBVAL_IGNORE_OUTPUT  (timings)\nt()", "t()"),
    ("print(1)\n", "print(1)\n"),                                   # untouched
    ("s = '# NBVAL_SKIP'", "s = '# NBVAL_SKIP'"),                    # a string, not a marker
    ("f()  # NBVAL_SKIP", "f()  # NBVAL_SKIP"),                      # a trailing comment
    ("# NBVALUE is not a marker\nx", "# NBVALUE is not a marker\nx"),
    ("# nbval_skip\nx", "# nbval_skip\nx"),                          # nbval's markers are upper case
    ("# NBVAL_SKIP", ""),
])
def test_strip_nbval_markers(code, shown):
    assert site.strip_nbval_markers(code) == shown


def _document():
    return new_document("test", get_default_settings(Parser))


def _code_cell(code, *tags):
    cell = nodes.container(classes=["cell"] + [f"tag_{t}" for t in tags])
    cell_input = nodes.container(classes=["cell_input"])
    cell_input += nodes.literal_block(code, code, language="ipython3")
    cell += cell_input
    output = nodes.container(classes=["cell_output"])
    output += nodes.literal_block("# NBVAL_SKIP printed", "# NBVAL_SKIP printed")
    cell += output
    return cell


def test_strip_from_doctree_touches_code_cell_sources_only():
    doc = _document()
    doc += _code_cell("# NBVAL_CHECK_OUTPUT\nprint(2)")
    doc += _code_cell("print(3)")
    prose = "# NBVAL_SKIP\nshown as an example of a marker"
    doc += nodes.literal_block(prose, prose)          # a code block in the text: left alone
    assert site.strip_nbval_from_doctree(doc) == 1
    blocks = [b.astext() for b in doc.findall(nodes.literal_block)]
    assert blocks == ["print(2)", "# NBVAL_SKIP printed", "print(3)", "# NBVAL_SKIP printed", prose]
    assert site.strip_nbval_from_doctree(doc) == 0    # idempotent


# ------------------------------------------------------------- links in cell outputs
def test_links_to_notebooks_in_outputs_lead_to_pages():
    doc = _document()
    uris = ["at-the-blogs-scale.ipynb#target-14", "pruning.ipynb", "https://example.org/a.ipynb",
            "pruning.html#claims", "../_sources/book/pruning.ipynb.txt", "#section"]
    para = nodes.paragraph()
    for uri in uris:
        para += nodes.reference("", "link", refuri=uri)
    doc += para
    assert site.link_output_notebooks(doc) == 2
    assert [r["refuri"] for r in doc.findall(nodes.reference)] == [
        "at-the-blogs-scale.html#target-14", "pruning.html", "https://example.org/a.ipynb",
        "pruning.html#claims", "../_sources/book/pruning.ipynb.txt", "#section"]


# ------------------------------------------------------- the repository, until it is public
def test_remove_install_cells_removes_only_tagged_cells():
    doc = _document()
    doc += _code_cell("pip install", "hide-input", "sparana-install")
    doc += _code_cell("print(1)", "hide-input")
    assert site.remove_install_cells(doc) == 1
    assert [b.astext() for b in doc.findall(nodes.literal_block)][0] == "print(1)"
    assert site.remove_install_cells(doc) == 0


def test_without_launch_buttons_keeps_other_theme_options():
    options = {"repository_url": "https://example.org/r",
               "launch_buttons": {"binderhub_url": "https://mybinder.org", "colab_url": "x"}}
    new = site.without_launch_buttons(options)
    assert new == {"repository_url": "https://example.org/r", "launch_buttons": {}}
    assert options["launch_buttons"]["binderhub_url"]     # the input is not modified
    assert site.without_launch_buttons(None) == {"launch_buttons": {}}


def test_config_registers_the_extension_and_the_flag():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    sphinx = config["sphinx"]
    assert sphinx["local_extensions"] == {"sparana_site": "_ext"}
    assert isinstance(sphinx["config"]["sparana_repository_public"], bool)
    assert "sparana-toggles.js" in sphinx["config"]["html_js_files"]
    assert (ROOT / "_static" / "sparana-toggles.js").is_file()
    assert "mathjax_path" not in sphinx["config"], "the extension sets mathjax_path"


# ----------------------------------------------------------------------- MathJax, offline
def test_mathjax_files_come_from_the_installed_package():
    source = site.mathjax_source()
    if source is None:
        pytest.skip("sphinx-mathjax-offline is not installed (the `book` extra)")
    files = site.mathjax_files(source)
    assert files[0] == site.MATHJAX_COMPONENT and (source / files[0]).is_file()
    assert any(f.startswith("output/chtml/fonts/woff-v2/") for f in files), "the CHTML fonts"
    assert "input/tex/extensions/boldsymbol.js" in files, "autoloaded TeX packages"
    assert not any(f.startswith("output/svg") for f in files)
    assert "tex-svg.js" not in files and "tex-chtml.js" not in files
