"""The book's own Sphinx extension: what the online reader sees, beyond the theme's defaults.

Registered in _config.yml (``sphinx: local_extensions: {sparana_site: _ext}``). It does four
things, each on its own so that each can be tested without a build:

* **nbval's markers are the tests' business.** Code cells keep ``# NBVAL_CHECK_OUTPUT``,
  ``# NBVAL_IGNORE_OUTPUT`` and ``# NBVAL_SKIP`` lines in the notebooks (nbval reads them);
  the rendered code cells do not show them (:func:`strip_nbval_markers`).
* **No links to a repository that is not there.** While ``sparana_repository_public`` (a
  Sphinx config value, set in _config.yml next to ``repository.url``) is false, pages have no
  Binder/Colab launch buttons and no install cell (code cells tagged ``sparana-install``, which
  pip-install the package from ``repository.url``). Set it to true once the repository is public.
* **Links in generated text lead to pages.** Prose and tables that a code cell prints as
  Markdown link chapters as a reader of the notebook would (``other-chapter.ipynb#section``);
  Sphinx resolves such links in markdown cells, not in cell outputs, so
  :func:`link_output_notebooks` points them at the built pages.
* **Maths without a CDN.** MathJax 3 is served from the book itself: the files come from the
  ``sphinx-mathjax-offline`` package (the ``book`` extra), and only the parts a CHTML page can
  load are copied into ``_static/mathjax/``.
"""
import importlib.util
from pathlib import Path
import re

from docutils import nodes
from sphinx.util import logging
from sphinx.util.fileutil import copy_asset

logger = logging.getLogger(__name__)

INSTALL_TAG = "sparana-install"

# ------------------------------------------------------------- links in cell outputs
_NOTEBOOK_LINK = re.compile(r"^(?![a-z][a-z0-9+.-]*:|/)([^#?]+)\.ipynb(#.*)?$", re.I)


def link_output_notebooks(doctree):
    """Point links to ``*.ipynb`` (relative, in cell outputs) at the built ``*.html`` pages;
    return how many changed."""
    changed = 0
    for ref in doctree.findall(nodes.reference):
        match = _NOTEBOOK_LINK.match(ref.get("refuri", ""))
        if match:
            ref["refuri"] = f"{match.group(1)}.html{match.group(2) or ''}"
            changed += 1
    return changed


# ------------------------------------------------------------------------ nbval's markers
# nbval reads a marker from a comment line of its own (``# NBVAL_SKIP``, ``#NBVAL_RAISES_EXCEPTION``).
_NBVAL_LINE = re.compile(r"^[ \t]*#[ \t]*NBVAL_[A-Z_]+\b.*$")


def strip_nbval_markers(code):
    """``code`` without its nbval marker lines (and without blank lines they leave at the top).

    Only whole comment lines go: code that merely mentions ``NBVAL_`` (a string, a trailing
    comment) is kept.
    """
    lines = code.split("\n")
    kept = [line for line in lines if not _NBVAL_LINE.match(line)]
    if len(kept) == len(lines):
        return code
    while kept and not kept[0].strip() and len(kept) > 1:
        kept.pop(0)
    return "\n".join(kept)


def _in_code_cell_input(node):
    parent = node.parent
    while parent is not None:
        if isinstance(parent, nodes.container) and "cell_input" in parent.get("classes", []):
            return True
        parent = parent.parent
    return False


def strip_nbval_from_doctree(doctree):
    """Remove nbval's marker lines from every code cell's source in ``doctree``; return how
    many code blocks changed. Code blocks outside notebook code cells are left alone."""
    changed = 0
    for block in list(doctree.findall(nodes.literal_block)):
        if not _in_code_cell_input(block):
            continue
        text = block.astext()
        new = strip_nbval_markers(text)
        if new != text:
            block.children = []
            block += nodes.Text(new)
            block.rawsource = new
            changed += 1
    return changed


# ------------------------------------------------------- the repository, until it is public
def remove_install_cells(doctree):
    """Remove the code cells tagged ``sparana-install`` from ``doctree``; return how many."""
    cells = [c for c in doctree.findall(nodes.container)
             if f"tag_{INSTALL_TAG}" in c.get("classes", [])]
    for cell in cells:
        cell.parent.remove(cell)
    return len(cells)


def without_launch_buttons(theme_options):
    """``theme_options`` (html_theme_options) with the launch buttons switched off."""
    return {**(theme_options or {}), "launch_buttons": {}}


# ----------------------------------------------------------------------- MathJax, offline
MATHJAX_COMPONENT = "tex-mml-chtml.js"  # what Sphinx loads from its CDN by default
# Besides the component: the TeX extensions it autoloads, the CHTML fonts, the menu and the
# accessibility tools the menu can switch on. The SVG output and the other combined
# components are never loaded by a page that uses this component.
_MATHJAX_DIRS = {"a11y", "adaptors", "input", "output", "sre", "ui"}
_MATHJAX_SKIP = ("output/svg", "output/svg.js")


def mathjax_source():
    """The folder of MathJax 3's files shipped by ``sphinx-mathjax-offline``, or None."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")  # its module's name has dashes
    if spec is None or not spec.origin:
        return None
    folder = Path(spec.origin).parent / "static" / "mathjax"
    return folder if (folder / MATHJAX_COMPONENT).is_file() else None


def mathjax_files(source):
    """The files (paths relative to ``source``) a page that loads MATHJAX_COMPONENT can ask for."""
    files = [MATHJAX_COMPONENT]
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source).as_posix()
        if path.is_file() and rel.split("/")[0] in _MATHJAX_DIRS \
                and not any(rel == s or rel.startswith(s + "/") for s in _MATHJAX_SKIP):
            files.append(rel)
    return files


def _use_local_mathjax(app, config):
    source = mathjax_source()
    if source is None:
        logger.warning("sparana_site: sphinx-mathjax-offline is not installed (the `book` extra); "
                       "the maths is loaded from a CDN instead")
        return
    app._sparana_mathjax = source
    config.mathjax_path = f"mathjax/{MATHJAX_COMPONENT}"  # relative: under _static/


def _copy_mathjax(app, exception):
    source = getattr(app, "_sparana_mathjax", None)
    if exception is not None or source is None or app.builder.format != "html":
        return
    keep = set(mathjax_files(source))
    folders = {"/".join(f.split("/")[:i]) for f in keep for i in range(1, f.count("/") + 1)}

    def excluded(rel):  # copy_asset passes paths relative to source, "/"-separated
        return rel not in keep and rel not in folders

    copy_asset(str(source), str(Path(app.outdir) / "_static" / "mathjax"), excluded=excluded)


# --------------------------------------------------------------------------- the events
def _config_inited(app, config):
    if not config.sparana_repository_public:
        config.html_theme_options = without_launch_buttons(config.html_theme_options)
    _use_local_mathjax(app, config)


def _doctree_resolved(app, doctree, docname):
    strip_nbval_from_doctree(doctree)
    link_output_notebooks(doctree)
    if not app.config.sparana_repository_public:
        remove_install_cells(doctree)


def setup(app):
    app.add_config_value("sparana_repository_public", False, "html", types=[bool])
    app.connect("config-inited", _config_inited)
    app.connect("doctree-resolved", _doctree_resolved)
    app.connect("build-finished", _copy_mathjax)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
