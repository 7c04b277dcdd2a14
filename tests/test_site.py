"""The built book (_build/html) as a reader meets it: scripts/check_site.py's checks.

Where headless Chromium can run (selenium, and Debian's `chromium` and `chromium-driver`), the
book is built first if _build/html is missing or older than its sources (`make book`, about a
minute), and every check runs. Without a browser the checks that need none run on an existing
build, and everything is skipped, with the reason, when there is none.

The widget scripts' check renders the pages' ipywidgets views when a local copy of the scripts
is at $SPARANA_WIDGET_SCRIPTS or .cache/widget-scripts/ (require.js and embed-amd.js, e.g. from
`npm pack requirejs@2.3.4 @jupyter-widgets/html-manager@1.0.6`); otherwise those scripts are
blocked, as for a reader offline, and the check only sees that nothing renders without them.
"""
import os
from pathlib import Path
import subprocess
import sys

import pytest

from .scripts import import_file

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


check_site = import_file(ROOT / "scripts" / "check_site.py")
SOURCES = [ROOT / "_config.yml", ROOT / "_toc.yml", *(ROOT / "book").iterdir(),
           *(ROOT / "_ext").glob("*.py"), *(ROOT / "_static").iterdir()]


def browser_available():
    try:
        import selenium.webdriver  # noqa: F401
    except ImportError:
        return False
    return all(check_site.browser_paths())


def build_is_current():
    pages = check_site.book_pages(HTML)
    return bool(pages) and max(p.stat().st_mtime for p in pages) >= max(
        p.stat().st_mtime for p in SOURCES)


@pytest.fixture(scope="module", autouse=True)
def built_book():
    """The build the checks read: made here where a browser can check it and it is stale."""
    if browser_available() and not build_is_current():
        book = Path(sys.executable).with_name("jupyter-book")
        subprocess.run([str(book), "build", str(ROOT), "-W", "-q"], check=True, cwd=ROOT)
    if not check_site.book_pages(HTML):
        pytest.skip("no built book in _build/html, and no headless chromium here to check one "
                    "(run `make book`; Debian: apt-get install chromium chromium-driver)")


def _ok(problems):
    assert problems == [], "\n".join(problems)


# ------------------------------------------------------------------ no browser needed
def test_internal_links_resolve():
    _ok(check_site.check_links(HTML))


def test_pages_load_nothing_from_other_hosts_but_the_widget_scripts():
    problems, _ = check_site.check_offline(HTML)
    _ok(problems)


def test_no_install_cell_or_launch_button_while_the_repository_is_private():
    _ok(check_site.check_repository(HTML))


def test_code_cells_show_no_nbval_markers():
    _ok(check_site.check_nbval_markers(HTML))


def test_no_cell_output_is_an_ipywidgets_view():
    """Online readers have no kernel: explorer cells must be tagged remove-output."""
    _ok(check_site.check_widget_outputs(HTML))


def test_every_figure_has_alt_text():
    _ok(check_site.check_alt_text(HTML))


# ------------------------------------------------------------------------- the browser
def _widget_scripts():
    for folder in (os.environ.get("SPARANA_WIDGET_SCRIPTS"), ROOT / ".cache" / "widget-scripts"):
        if folder and all((Path(folder) / n).is_file() for n in check_site.WIDGET_SCRIPTS):
            return Path(folder)
    return None


@pytest.fixture(scope="module")
def site():
    pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    driver_path, chrome = check_site.browser_paths()
    if not driver_path or not chrome:
        pytest.skip("no chromium/chromedriver on PATH (Debian: apt-get install chromium "
                    "chromium-driver)")
    scripts = _widget_scripts()
    with check_site.serve(HTML, scripts) as base:
        try:
            driver = check_site.start_browser()
        except Exception as e:  # noqa: BLE001 - any start failure is a missing browser here
            pytest.skip(f"headless chromium did not start: {type(e).__name__}: {e}")
        try:
            yield driver, base, scripts is not None
        finally:
            driver.quit()


def test_navigation_at_1280_and_390_px(site):
    driver, base, _ = site
    problems, _ = check_site.check_navigation(driver, base)
    _ok(problems)


def test_every_static_slider_moves_its_figure(site):
    driver, base, _ = site
    problems, _ = check_site.check_sliders(driver, base, HTML)
    _ok(problems)


def test_maths_is_typeset_offline(site):
    driver, base, _ = site
    problems, lines = check_site.check_maths(driver, base, HTML)
    assert lines, "no page with maths was checked"
    _ok(problems)


def test_widget_scripts_render_no_widget(site):
    driver, base, served = site
    problems, _ = check_site.check_widgets_rendered(driver, base, HTML, served=served)
    _ok(problems)
