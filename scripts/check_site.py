"""Open the built book in headless Chromium and move every static slider (for authors, not CI).

    make book && .venv/bin/python scripts/check_site.py [--shots DIR]

For each page of ``_build/html/book`` with a static figure (``sparana_lite.static_figure``),
moves the slider to its end and the selector to its last option, and checks that the shown
frame and its caption change each time; ``--shots`` saves a screenshot of each figure before and
after. Needs selenium and Debian's ``chromium`` and ``chromium-driver``. Exit status 1 if a
figure did not change.
"""
import argparse
from pathlib import Path
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

ROOT = Path(__file__).resolve().parents[1]


def shown(figure):
    """The shown frame (its data URL) and caption of a static figure."""
    return (figure.find_element(By.CSS_SELECTOR, ".spf-frame").get_attribute("src"),
            figure.find_element(By.CSS_SELECTOR, ".spf-caption").text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html" / "book")
    parser.add_argument("--shots", type=Path, help="save screenshots here")
    args = parser.parse_args()
    pages = sorted(args.html.glob("*.html"))
    if not pages:
        parser.error(f"no pages in {args.html}: run `make book` first")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1300,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    failed = 0
    try:
        for page in pages:
            driver.get(page.as_uri())
            for n, figure in enumerate(driver.find_elements(By.CSS_SELECTOR, ".sparana-static-figure")):
                driver.execute_script("arguments[0].scrollIntoView()", figure)
                first = shown(figure)
                slider = figure.find_element(By.CSS_SELECTOR, ".spf-slider")
                slider.click()
                slider.send_keys(Keys.END)
                time.sleep(0.2)
                moved = shown(figure)
                changes = [moved != first]
                selects = figure.find_elements(By.CSS_SELECTOR, ".spf-select")
                if selects:
                    select = Select(selects[0])
                    select.select_by_index(len(select.options) - 1)
                    time.sleep(0.2)
                    changes.append(shown(figure) != moved)
                if args.shots:
                    args.shots.mkdir(parents=True, exist_ok=True)
                    figure.screenshot(str(args.shots / f"{page.stem}-{n}.png"))
                ok = all(changes)
                failed += not ok
                print(f"{page.name} figure {n}: slider {'moves' if changes[0] else 'DOES NOT move'} "
                      f"the frame" + (f", selector {'moves' if changes[1] else 'DOES NOT move'} it"
                                      if len(changes) > 1 else "") + f"; now: {shown(figure)[1]}")
    finally:
        driver.quit()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
