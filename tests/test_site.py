"""The built book (_build/html) as a reader meets it: scripts/check_site.py's checks.

Builds nothing: run `make book` first; without a build every test here is skipped. The browser
checks also need selenium and Debian's `chromium` and `chromium-driver`, and are skipped
without them. They check whatever build is there, so rebuild after changing the sources.

The widget scripts' check renders the pages' ipywidgets views when a local copy of the scripts
is at $SPARANA_WIDGET_SCRIPTS or .cache/widget-scripts/ (require.js and embed-amd.js, e.g. from
`npm pack requirejs@2.3.4 @jupyter-widgets/html-manager@1.0.6`); otherwise those scripts are
blocked, as for a reader offline, and the check only sees that nothing renders without them.
"""
import os
from pathlib import Path

import pytest

from .scripts import import_file

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"


check_site = import_file(ROOT / "scripts" / "check_site.py")

pytestmark = pytest.mark.skipif(not check_site.book_pages(HTML),
                                reason="no built book in _build/html (run `make book`)")


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
