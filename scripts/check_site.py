"""Check the built book as a reader meets it, offline, in headless Chromium (tests/test_site.py
runs the same checks on an existing build).

    make book && .venv/bin/python scripts/check_site.py [--shots DIR] [--page-shots DIR]
                                                         [--widget-scripts DIR]

The pages of ``_build/html`` are served on 127.0.0.1 and the browser resolves no other host, so
whatever a page would fetch from the internet does not load. The checks:

navigation  at 1280 px the chapter list is shown, its toggle hides and shows it again, and a
            link in it opens another page; at 390 px the toggles open the chapter list (a link in
            it opens another page) and the page contents (a link in them moves to the section).
sliders     every static figure (``sparana_lite.explorers.static_figure``): moving the slider to its end,
            and the selector to its last option, changes the shown frame and caption.
maths       every maths element is typeset by the MathJax served with the book (an
            ``mjx-container``, no TeX error) and no paragraph shows raw TeX.
widgets     no code cell output holds an ipywidgets view: online readers have no kernel, so a
            view is a dead control. With ``--widget-scripts DIR`` (``require.js`` and
            ``embed-amd.js``; see ``--help``) the pages' widget scripts are served from DIR in
            place of their CDN copies and no ``.widget-*`` element may appear; without it those
            scripts do not load, as for a reader offline.
links       every internal link, script, stylesheet and image of every page resolves to a file,
            and every ``#anchor`` of a link to an element of its page.
offline     no page loads a script or stylesheet from another host, except the widget scripts.
repository  while ``sparana_repository_public`` is false (_config.yml): no install cell, no
            launch button.
nbval       no code cell shows an nbval marker line (``# NBVAL_...``).
alt text    every figure in a cell output has alt text that says what it shows.

``--shots`` saves each static figure before and after; ``--page-shots`` the top of the intro,
the Pruning chapter and the first appendix at 1280 and 390 px (and at 390 px with the chapter
list open). Needs selenium and Debian's ``chromium`` and ``chromium-driver`` (the static
checks, ``links`` to ``nbval``, need neither). Exit status 1 if a check fails.
"""
import argparse
import contextlib
import functools
from html.parser import HTMLParser
import http.server
from pathlib import Path
import re
import shutil
import sys
import threading
import time
import urllib.parse

import yaml

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
WIDE, NARROW = (1280, 900), (390, 844)

# The scripts myst-nb adds to pages with widget outputs, and where --widget-scripts serves them.
WIDGET_SCRIPTS = {
    "require.js": re.compile(r"https://cdnjs\.cloudflare\.com/ajax/libs/require\.js/[^\"']*/require(\.min)?\.js"),
    "embed-amd.js": re.compile(r"https://cdn\.jsdelivr\.net/npm/@jupyter-widgets/html-manager@[^\"']*/dist/embed-amd\.js"),
}
LOCAL_WIDGETS = "/__widget-scripts__/"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def book_pages(html=HTML):
    """The chapter pages of a build: ``html/book/*.html``."""
    return sorted((Path(html) / "book").glob("*.html"))


def all_pages(html=HTML):
    """Every HTML page of a build (not the theme's and MathJax's static files)."""
    return sorted(p for p in Path(html).rglob("*.html") if "_static" not in p.parts)


# --------------------------------------------------------------------- the static checks
class _Page(HTMLParser):
    """The ids and the internal references (tag, attribute, value) of an HTML page."""

    REFS = {("a", "href"), ("link", "href"), ("script", "src"), ("img", "src"),
            ("iframe", "src"), ("source", "src")}

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.ids, self.refs, self.external = set(), [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for t, attr in self.REFS:
            value = attrs.get(attr) if tag == t else None
            if not value:
                continue
            if re.match(r"^([a-z][a-z0-9+.-]*:|//)", value, re.I):
                if value.startswith(("http:", "https:", "//")) and (
                        tag == "script" or (tag == "link" and "stylesheet" in (attrs.get("rel") or ""))):
                    self.external.append(value)
            else:
                self.refs.append((tag, attr, value))


@functools.lru_cache(maxsize=None)
def _parse(path):
    return _Page(Path(path).read_text(encoding="utf-8", errors="replace"))


def check_links(html=HTML):
    """Problems: internal references of every page that lead to no file or no anchor."""
    problems = []
    for page in all_pages(html):
        for tag, attr, value in _parse(page).refs:
            path, _, fragment = value.partition("#")
            path = urllib.parse.unquote(path.split("?")[0])
            target = (page.parent / path).resolve() if path else page
            if target.is_dir():
                target = target / "index.html"
            rel = page.relative_to(html)
            if not target.exists():
                problems.append(f"{rel}: <{tag} {attr}={value!r}> leads to no file")
            elif tag == "a" and fragment and target.suffix == ".html" \
                    and urllib.parse.unquote(fragment) not in _parse(target).ids:
                problems.append(f"{rel}: <a href={value!r}>: no #{fragment} in {target.name}")
    return problems


def check_offline(html=HTML):
    """Problems: scripts and stylesheets a page loads from another host (but the widget scripts,
    which check_widget_outputs makes unnecessary), and the lines saying which pages still load
    the widget scripts."""
    problems, widget_pages = [], []
    for page in all_pages(html):
        for url in _parse(page).external:
            if any(rx.fullmatch(url) for rx in WIDGET_SCRIPTS.values()):
                widget_pages.append(page.relative_to(html).as_posix())
            else:
                problems.append(f"{page.relative_to(html)}: loads {url} from another host")
    notes = [f"{p} loads the ipywidgets scripts from a CDN" for p in sorted(set(widget_pages))]
    return problems, notes


_CELL = re.compile(r'<div class="cell[ "]')


def _cells(text):
    """The HTML of each notebook cell of a page, in order."""
    starts = [m.start() for m in _CELL.finditer(text)]
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]


def _first_code_line(cell):
    pre = re.search(r'<div class="cell_input.*?<pre>(.*?)</pre>', cell, re.S)
    code = re.sub(r"<[^>]+>", "", pre.group(1)) if pre else ""
    lines = [line for line in map(str.strip, code.splitlines()) if line and not line.startswith("#")]
    return lines[0] if lines else "(no code shown)"


def check_widget_outputs(html=HTML):
    """Problems: code cells whose output is an ipywidgets view (page, cell number, first line)."""
    problems = []
    for page in book_pages(html):
        for n, cell in enumerate(_cells(page.read_text(encoding="utf-8"))):
            if WIDGET_VIEW in cell:
                problems.append(f"{page.name}: cell {n} (`{_first_code_line(cell)}`) shows an "
                                f"ipywidgets view: tag it remove-output")
    return problems


def check_nbval_markers(html=HTML):
    """Problems: code cells that show an nbval marker line."""
    problems = []
    for page in book_pages(html):
        for n, cell in enumerate(_cells(page.read_text(encoding="utf-8"))):
            source = re.search(r'<div class="cell_input.*?</pre>', cell, re.S)
            code = re.sub(r"<[^>]+>", "", source.group(0)) if source else ""
            if re.search(r"^\s*#\s*NBVAL_", code, re.M):
                problems.append(f"{page.name}: cell {n} shows an nbval marker")
    return problems


def check_alt_text(html=HTML):
    """Problems: figures in cell outputs whose alt text is missing or only a file name (a
    reader with a screen reader hears it; give the cell ``mystnb: image: alt:`` metadata)."""
    problems = []
    for page in book_pages(html):
        for n, cell in enumerate(_cells(page.read_text(encoding="utf-8"))):
            output = cell.partition('<div class="cell_output')[2]
            for img in re.findall(r"<img\b[^>]*>", output):
                alt = re.search(r'\balt="([^"]*)"', img)
                text = alt.group(1).strip() if alt else ""
                if not text or re.search(r"(^|/)_images/|^[0-9a-f]{16,}(\.\w+)?$", text):
                    problems.append(f"{page.name}: cell {n} (`{_first_code_line(cell)}`) shows a "
                                    f"figure without alt text ({text or 'none'!r})")
    return problems


def repository_public(config=ROOT / "_config.yml"):
    """Whether _config.yml says the repository is public (sparana_repository_public)."""
    data = yaml.safe_load(Path(config).read_text()) or {}
    return bool(((data.get("sphinx") or {}).get("config") or {}).get("sparana_repository_public"))


def check_repository(html=HTML, public=None):
    """Problems: while the repository is not public, install cells or launch buttons shown."""
    if public is None:
        public = repository_public()
    if public:
        return []
    problems = []
    for page in book_pages(html):
        text = page.read_text(encoding="utf-8")
        if "tag_sparana-install" in text or "git+https://" in text:
            problems.append(f"{page.name}: shows the install cell, but the repository is not public")
        if re.search(r'href="https://(mybinder\.org|colab\.research\.google\.com)', text) \
                or "dropdown-launch-buttons" in text:
            problems.append(f"{page.name}: has launch buttons, but the repository is not public")
    return problems


# -------------------------------------------------------------------- serving and browsing
def _unpinned(tag):
    """A <script> tag (a match) without the integrity hash of the CDN copy it named before."""
    return re.sub(r'\s(integrity|crossorigin)="[^"]*"', "", tag.group(0))


@contextlib.contextmanager
def serve(html=HTML, widget_scripts=None):
    """Serve ``html`` on 127.0.0.1; yields the base URL. With ``widget_scripts`` (a folder with
    require.js and embed-amd.js), pages load those in place of their CDN copies."""
    html = Path(html)
    widget_scripts = Path(widget_scripts) if widget_scripts else None

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(html), **kwargs)

        def log_message(self, *args):
            pass

        def _send(self, body, ctype):
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
            if widget_scripts and path.startswith(LOCAL_WIDGETS):
                name = path[len(LOCAL_WIDGETS):]
                if name in WIDGET_SCRIPTS and (widget_scripts / name).is_file():
                    return self._send((widget_scripts / name).read_bytes(), "text/javascript")
                return self.send_error(404)
            if widget_scripts and path.endswith(".html") and (html / path.lstrip("/")).is_file():
                text = (html / path.lstrip("/")).read_text(encoding="utf-8")
                for name, rx in WIDGET_SCRIPTS.items():
                    text = rx.sub(LOCAL_WIDGETS + name, text)
                text = re.sub(r"<script[^>]*%s[^>]*>" % re.escape(LOCAL_WIDGETS), _unpinned, text)
                return self._send(text.encode("utf-8"), "text/html; charset=utf-8")
            return super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def browser_paths():
    """(chromedriver, chromium) found on PATH, or None for each missing."""
    driver = shutil.which("chromedriver")
    chrome = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))
                   if p), None)
    return driver, chrome


def start_browser(size=WIDE):
    """Headless Chromium that reaches 127.0.0.1 and no other host."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    driver_path, chrome = browser_paths()
    if not driver_path or not chrome:
        raise RuntimeError("no chromium and chromedriver on PATH (Debian: apt-get install "
                           "chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                f"--window-size={size[0]},{size[1]}"):
        options.add_argument(arg)
    # An explicit driver path: Selenium Manager never goes to the network.
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    return driver


def _resize(driver, size):
    driver.set_window_size(*size)
    if driver.execute_script("return window.innerWidth") != size[0]:  # window decorations
        dw = size[0] - driver.execute_script("return window.innerWidth")
        driver.set_window_size(size[0] + dw, size[1])


def _wait(driver, condition, timeout=10.0):
    """Poll ``condition(driver)`` until truthy; its last value."""
    end = time.monotonic() + timeout
    value = condition(driver)
    while not value and time.monotonic() < end:
        time.sleep(0.1)
        value = condition(driver)
    return value


def _displayed(driver, selector):
    from selenium.webdriver.common.by import By
    return [e for e in driver.find_elements(By.CSS_SELECTOR, selector) if e.is_displayed()]


def _open_chapter_link(driver, container, current, selector=""):
    """Click a shown link in ``container`` (under ``selector``) to another chapter (the intro
    only if there is no other); returns (the page it should open, the page open after the click)."""
    from selenium.webdriver.common.by import By
    links = []
    for link in container.find_elements(By.CSS_SELECTOR, f"{selector} a.reference.internal"):
        page = (link.get_attribute("href") or "").split("#")[0]
        if link.is_displayed() and page.endswith(".html") and page != current:
            links.append((page.endswith("/intro.html"), page, link))
    if not links:
        return None, current
    _, page, link = sorted(links, key=lambda t: t[0])[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
    link.click()
    _wait(driver, lambda d: d.current_url.split("#")[0] == page)
    return page, driver.current_url.split("#")[0]


def _shown_links(driver, selector):
    from selenium.webdriver.common.by import By
    return [a for a in driver.find_elements(By.CSS_SELECTOR, f"{selector} a.reference.internal")
            if a.is_displayed()]


def check_navigation(driver, base, page="book/pruning.html"):
    """Problems with the chapter list and page contents at 1280 and 390 px; and what was seen.

    The chapter list is ``.bd-sidebar-primary`` and the page contents ``.bd-sidebar-secondary``
    (pydata-sphinx-theme moves both classes onto its dialogs when it opens them on small screens).
    """
    problems, seen = [], []
    url = base + page
    chapters, contents = ".bd-sidebar-primary", ".bd-sidebar-secondary"
    # --- wide: the chapter list is there, its toggle hides and shows it, a link opens a page
    _resize(driver, WIDE)
    driver.get(url)
    if not _shown_links(driver, chapters):
        problems.append("1280 px: the chapter list is not shown")
    toggles = _displayed(driver, ".primary-toggle")
    if not toggles:
        problems.append("1280 px: no chapter-list toggle is shown")
    else:
        toggles[0].click()
        if not _wait(driver, lambda d: not _shown_links(d, chapters), 3):
            problems.append("1280 px: the chapter-list toggle does not hide the chapter list")
        else:
            toggles[0].click()
            if not _wait(driver, lambda d: _shown_links(d, chapters), 3):
                problems.append("1280 px: the chapter-list toggle does not show it again")
            else:
                seen.append("1280 px: the toggle hides and shows the chapter list")
    driver.get(url)
    target, now = _open_chapter_link(driver, driver, url, chapters)
    if target is None or now != target:
        problems.append(f"1280 px: a chapter-list link did not open another page (at {now})")
    else:
        seen.append(f"1280 px: the chapter list opened {target[len(base):]}")
    # --- narrow: the toggles open the chapter list and the page contents
    _resize(driver, NARROW)
    for kind, toggle, where in (("chapter list", ".primary-toggle", chapters),
                                ("page contents", ".secondary-toggle", contents)):
        driver.get(url)
        if _shown_links(driver, where):
            problems.append(f"390 px: the {kind} is shown before its toggle is clicked")
            continue
        toggles = _displayed(driver, toggle)
        if len(toggles) != 1:
            problems.append(f"390 px: {len(toggles)} {kind} toggles shown (expected 1)")
            continue
        toggles[0].click()
        links = _wait(driver, lambda d: _shown_links(d, where), 3)
        if not links:
            problems.append(f"390 px: the {kind} toggle does not open the {kind}")
            continue
        if kind == "chapter list":
            target, now = _open_chapter_link(driver, driver, url, where)
            if target is None or now != target:
                problems.append(f"390 px: a chapter-list link did not open another page (at {now})")
            else:
                seen.append(f"390 px: the chapter list opens ({len(links)} links); "
                            f"a link in it opened {target[len(base):]}")
        else:
            link = links[min(1, len(links) - 1)]
            fragment = (link.get_attribute("href") or "").partition("#")[2]
            link.click()
            if not _wait(driver, lambda d: d.current_url.endswith("#" + fragment), 3):
                problems.append(f"390 px: a page-contents link did not go to #{fragment}")
            else:
                seen.append(f"390 px: the page contents open ({len(links)} links); "
                            f"a link in them went to #{fragment}")
    return problems, seen


def check_sliders(driver, base, html=HTML, shots=None):
    """Problems with the static figures' sliders and selectors; and one line per figure."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    def shown(figure):
        return (figure.find_element(By.CSS_SELECTOR, ".spf-frame").get_attribute("src"),
                figure.find_element(By.CSS_SELECTOR, ".spf-caption").text)

    problems, lines = [], []
    _resize(driver, WIDE)
    for page in book_pages(html):
        if "sparana-static-figure" not in page.read_text(encoding="utf-8"):
            continue
        driver.get(base + page.relative_to(html).as_posix())
        for n, figure in enumerate(driver.find_elements(By.CSS_SELECTOR, ".sparana-static-figure")):
            driver.execute_script("arguments[0].scrollIntoView()", figure)
            first = shown(figure)
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                figure.screenshot(str(Path(shots) / f"{page.stem}-{n}-before.png"))
            slider = figure.find_element(By.CSS_SELECTOR, ".spf-slider")
            slider.click()
            slider.send_keys(Keys.END)
            _wait(driver, lambda d: shown(figure) != first, 2)
            moved = shown(figure)
            changes = [moved != first]
            selects = figure.find_elements(By.CSS_SELECTOR, ".spf-select")
            if selects:
                select = Select(selects[0])
                select.select_by_index(len(select.options) - 1)
                _wait(driver, lambda d: shown(figure) != moved, 2)
                changes.append(shown(figure) != moved)
            if shots:
                figure.screenshot(str(Path(shots) / f"{page.stem}-{n}-after.png"))
            line = (f"{page.name} figure {n}: slider {'moves' if changes[0] else 'DOES NOT move'} "
                    f"the frame" + (f", selector {'moves' if changes[1] else 'DOES NOT move'} it"
                                    if len(changes) > 1 else "") + f"; now: {shown(figure)[1]}")
            lines.append(line)
            if not all(changes):
                problems.append(line)
    return problems, lines


_MATHS_JS = r"""
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) {
    mj.startup.promise.then(report, (e) => done({error: String(e)}));
  } else if (Date.now() - start > 15000) {
    done({error: "MathJax did not load"});
  } else {
    setTimeout(poll, 100);
  }
})();
function report() {
  const maths = [...document.querySelectorAll("article .math")];
  const raw = [];
  const tex = /\$\$|\\\(|\\\)|\\\[|\\\]|\$[^$\s][^$]*?[\\^_{}][^$]*?\$/;
  document.querySelectorAll("article p, article li, article td, article th, article dd, article figcaption")
    .forEach((el) => {
      const copy = el.cloneNode(true);
      copy.querySelectorAll("mjx-container, .math, code, pre, script, .cell_input").forEach((x) => x.remove());
      const text = copy.textContent;
      if (tex.test(text)) raw.push(text.trim().slice(0, 120));
    });
  const scripts = performance.getEntriesByType("resource").map((e) => e.name)
    .filter((n) => /mathjax/i.test(n));
  done({version: window.MathJax.version, maths: maths.length,
        untypeset: maths.filter((m) => !m.querySelector("mjx-container")).length,
        containers: document.querySelectorAll("mjx-container").length,
        errors: document.querySelectorAll("mjx-merror").length, raw: raw, scripts: scripts});
}
"""


def check_maths(driver, base, html=HTML):
    """Problems with the maths of each page that has some; and one line per page."""
    problems, lines = [], []
    _resize(driver, WIDE)
    driver.set_script_timeout(30)
    for page in all_pages(html):
        if 'class="math' not in page.read_text(encoding="utf-8"):
            continue
        rel = page.relative_to(html).as_posix()
        driver.get(base + rel)
        r = driver.execute_async_script(_MATHS_JS)
        if r.get("error"):
            problems.append(f"{rel}: {r['error']}")
            continue
        outside = [s for s in r["scripts"] if not s.startswith(base)]
        bad = []
        if r["untypeset"]:
            bad.append(f"{r['untypeset']} of {r['maths']} maths elements not typeset")
        if r["errors"]:
            bad.append(f"{r['errors']} TeX errors")
        if r["raw"]:
            bad.append(f"raw TeX in the text: {r['raw'][:3]}")
        if outside or not r["scripts"]:
            bad.append(f"MathJax not served with the book: {outside or 'no MathJax file loaded'}")
        line = (f"{rel}: MathJax {r['version']}, {r['containers']} typeset "
                f"({r['maths']} maths elements)" + ("; " + "; ".join(bad) if bad else ""))
        lines.append(line)
        if bad:
            problems.append(line)
    return problems, lines


def check_widgets_rendered(driver, base, html=HTML, served=False):
    """Problems: ``.widget-*`` elements that the pages' widget scripts render in cell outputs;
    and one line per page that loads those scripts. ``served``: whether serve() was given the
    scripts (else they do not load, as offline)."""
    problems, lines = [], []
    _resize(driver, WIDE)
    for page in book_pages(html):
        if "embed-amd.js" not in page.read_text(encoding="utf-8"):
            continue
        rel = page.relative_to(html).as_posix()
        driver.get(base + rel)
        loaded = _wait(driver, lambda d: d.execute_script(
            "return typeof window.require === 'function' && typeof window.define === 'function'"),
            5 if served else 1)
        count = 0
        if loaded:  # the manager renders the views once the page has loaded
            count = _wait(driver, lambda d: d.execute_script(
                "return document.querySelectorAll('.cell_output [class*=\"widget-\"]').length"), 5)
        state = ("widget scripts served locally and loaded" if loaded else
                 "widget scripts served locally but NOT loaded" if served else
                 "widget scripts not loaded (offline)")
        line = f"{rel}: {state}; {count} .widget-* elements in cell outputs"
        lines.append(line)
        if count or (served and not loaded):
            problems.append(line)
    return problems, lines


def page_shots(driver, base, out, pages=("book/intro.html", "book/pruning.html",
                                          "book/at-the-blogs-scale.html")):
    """Screenshots of the top of ``pages`` at 1280 and 390 px, and at 390 px with the chapter
    list open; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for page in pages:
        stem = Path(page).stem
        for size in (WIDE, NARROW):
            _resize(driver, size)
            driver.get(base + page)
            time.sleep(1.0)  # MathJax and fonts
            path = out / f"{stem}-{size[0]}.png"
            driver.save_screenshot(str(path))
            paths.append(path)
        toggles = _displayed(driver, ".primary-toggle")
        if toggles:
            toggles[0].click()
            _wait(driver, lambda d: _shown_links(d, ".bd-sidebar-primary"), 3)
            time.sleep(0.5)  # the sidebar's slide-in
            path = out / f"{stem}-390-chapters.png"
            driver.save_screenshot(str(path))
            paths.append(path)
    return paths


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=HTML, help="the built book (_build/html)")
    parser.add_argument("--shots", type=Path, help="save each static figure here, before and after")
    parser.add_argument("--page-shots", type=Path, help="save screenshots of pages here")
    parser.add_argument("--widget-scripts", type=Path,
                        help="a folder with require.js and embed-amd.js (from `npm pack "
                             "requirejs @jupyter-widgets/html-manager`, at the versions the pages "
                             "name), served in place of their CDN copies")
    args = parser.parse_args(argv)
    if not book_pages(args.html):
        parser.error(f"no pages in {args.html / 'book'}: run `make book` first")
    failed = 0

    def report(name, problems, lines=()):
        nonlocal failed
        for line in lines:
            print(f"  {line}")
        for problem in problems:
            print(f"  FAIL {problem}")
        print(f"{name}: {'FAIL' if problems else 'ok'}")
        failed += bool(problems)

    report("links", check_links(args.html))
    problems, notes = check_offline(args.html)
    report("offline", problems, notes)
    report("repository", check_repository(args.html))
    report("nbval", check_nbval_markers(args.html))
    report("widget outputs", check_widget_outputs(args.html))
    report("alt text", check_alt_text(args.html))
    with serve(args.html, args.widget_scripts) as base:
        driver = start_browser()
        try:
            report("navigation", *check_navigation(driver, base))
            report("sliders", *check_sliders(driver, base, args.html, args.shots))
            report("maths", *check_maths(driver, base, args.html))
            report("widgets rendered", *check_widgets_rendered(
                driver, base, args.html, served=args.widget_scripts is not None))
            if args.page_shots:
                for path in page_shots(driver, base, args.page_shots):
                    print(f"  saved {path}")
        finally:
            driver.quit()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
