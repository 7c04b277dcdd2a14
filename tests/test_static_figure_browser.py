"""A static figure in a real browser: headless Chromium moves the slider and the frame changes.

Needs selenium (the `test` extra) and Debian's `chromium` and `chromium-driver` (or any
chromedriver on PATH with a Chrome/Chromium it can start); skipped, with the reason, without.
"""
import shutil

import matplotlib
import matplotlib.pyplot as plt
import pytest

from sparana_lite.static_figure import StaticFigure, figure_png

matplotlib.use("Agg")


def _browser_paths():
    driver = shutil.which("chromedriver")
    browser = next((p for p in map(shutil.which, ("chromium", "chromium-browser",
                                                  "google-chrome")) if p), None)
    return driver, browser


@pytest.fixture(scope="module")
def driver():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service
    path, browser = _browser_paths()
    if not path or not browser:
        pytest.skip("no chromium/chromedriver on PATH (Debian: apt-get install chromium "
                    "chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    try:  # an explicit driver path: Selenium Manager never goes to the network
        d = webdriver.Chrome(service=Service(executable_path=path), options=options)
    except Exception as e:  # noqa: BLE001 - any start failure is a missing browser here
        pytest.skip(f"headless chromium did not start: {type(e).__name__}: {e}")
    yield d
    d.quit()


def _figure():
    """Two options x three slider positions; each frame a different bar height."""
    frames, captions = [], []
    for colour in ("tab:red", "tab:blue"):
        for h in (0.2, 0.5, 0.9):
            fig, ax = plt.subplots(figsize=(2, 1.5))
            ax.bar([0], [h], color=colour)
            ax.set_ylim(0, 1)
            frames.append(figure_png(fig, dpi=40))
            plt.close(fig)
            captions.append(f"{colour} at {h}")
    return StaticFigure(frames, ["0.2", "0.5", "0.9"], captions, slider_name="height",
                        select_labels=["red", "blue"], select_name="colour")


def test_slider_and_select_swap_the_frame_and_caption(driver, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select
    fig = _figure()
    page = fig.save(tmp_path / "figure.html")
    driver.get(page.as_uri())
    root = driver.find_element(By.ID, fig.id)
    img = root.find_element(By.CSS_SELECTOR, "img.spf-frame")
    caption = root.find_element(By.CSS_SELECTOR, ".spf-caption")
    value = root.find_element(By.CSS_SELECTOR, ".spf-value")
    slider = root.find_element(By.CSS_SELECTOR, "input.spf-slider")
    first = img.get_attribute("src")
    assert first.startswith("data:image/png;base64,")
    assert caption.text == "tab:red at 0.2" and value.text == "0.2"

    # a keyboard user: focus the slider, press the right arrow
    slider.click()
    driver.execute_script("arguments[0].value = 0; arguments[0].focus();", slider)
    slider.send_keys(Keys.ARROW_RIGHT)
    assert slider.get_attribute("value") == "1"
    assert caption.text == "tab:red at 0.5" and value.text == "0.5"
    assert img.get_attribute("src") not in (first, "")

    # a script sets the value and fires "input", as a dragged slider does
    driver.execute_script("arguments[0].value = 2;"
                          "arguments[0].dispatchEvent(new Event('input'));", slider)
    assert caption.text == "tab:red at 0.9" and value.text == "0.9"
    at_red = img.get_attribute("src")

    # the selector switches to the other option's frames, at the same slider position
    Select(root.find_element(By.CSS_SELECTOR, "select.spf-select")).select_by_visible_text("blue")
    assert caption.text == "tab:blue at 0.9"
    assert img.get_attribute("src") not in (at_red, first)
    # the shown frame is exactly the figure's frame 5 (blue, 0.9)
    import base64
    shown = base64.b64decode(img.get_attribute("src").split(",", 1)[1])
    assert shown == fig.frames[5]
