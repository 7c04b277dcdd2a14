"""Static figures: precomputed frames, an HTML slider and inline JS; no kernel, no network."""
import base64
import re

import ipywidgets
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

import sparana_lite as sl
from sparana_lite import widgets
from sparana_lite.static_figure import MAX_FRAMES, StaticFigure, figure_png

matplotlib.use("Agg")

PNG = b"\x89PNG\r\n\x1a\n"


def toy_explorer(calls=None):
    """An Explorer over a float slider "a" and a selector "kind", drawing one bar."""
    calls = [] if calls is None else calls

    def compute(a, kind):
        calls.append((a, kind))
        return {"a": a, "kind": kind}

    def draw(result):
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.bar([0], [result["a"]], color="tab:red" if result["kind"] == "red" else "tab:blue")
        ax.set_ylim(0, 1)
        return fig

    controls = {"a": ipywidgets.FloatSlider(value=0.5, min=0, max=1, step=0.1,
                                            description="height"),
                "kind": ipywidgets.Dropdown(options=[("Red bars", "red"), ("Blue bars", "blue")],
                                            value="red", description="colour")}
    return widgets.Explorer(controls, compute, draw, header="<b>toy</b> explorer")


def slider_range(html):
    m = re.search(r'<input class="spf-slider" type="range" min="(\d+)" max="(\d+)"', html)
    return int(m.group(1)), int(m.group(2))


def embedded_frames(html):
    """The distinct PNG frames of the script's data (the shown <img> repeats one of them)."""
    data = re.search(r'var d = (\{.*?\});\n', html, re.S).group(1)
    return re.findall(r'data:image/png;base64,([A-Za-z0-9+/=]+)', data)


def test_frames_slider_select_and_captions():
    calls = []
    w = toy_explorer(calls)
    fig = w.static_figure("a", [0.2, 0.5, 0.9], select="kind", dpi=50)
    assert isinstance(fig, StaticFigure) and fig.n_frames == 6
    assert all(f.startswith(PNG) for f in fig.frames)
    html = fig._repr_html_()
    assert slider_range(html) == (0, 2)                      # one slider position per value
    frames = embedded_frames(html)
    assert len(frames) == 6 and base64.b64decode(frames[0]) == fig.frames[0]
    assert html.count("<option ") == 2 and "Red bars" in html and "Blue bars" in html
    assert fig.slider_labels == ["0.2", "0.5", "0.9"] and fig.select_labels == ["Red bars",
                                                                                 "Blue bars"]
    assert fig.captions[4] == "a 0.5, kind blue"               # select-major order
    assert fig.start == (0, 1)                                 # the widget's current setting
    assert fig.title == "toy explorer"
    # each setting computed once, and the widget's controls were not moved
    assert len(calls) == 6 and w.controls["a"].value == 0.5 and len(w.cache) == 6
    w.static_figure("a", [0.2, 0.5], dpi=50)
    assert len(calls) == 6                                     # all from the cache
    assert not plt.get_fignums()                               # frames' figures are closed


def test_no_network_fetches_and_a_standalone_page(tmp_path):
    fig = toy_explorer().static_figure("a", [0.1, 0.3], dpi=40)
    html = fig.to_html()
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=\"(?!data:)", html)
    page = fig.save(tmp_path / "f.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and html in page
    assert not re.search(r"https?://", page)
    assert fig.nbytes() == len(html.encode()) and "kB of HTML" in repr(fig)


def test_selector_options_default_to_the_control_options():
    fig = toy_explorer().static_figure("kind", dpi=40)
    assert fig.n_frames == 2 and fig.select_labels is None
    assert fig.slider_labels == ["Red bars", "Blue bars"]


def test_dpi_sets_the_frame_size():
    w = toy_explorer()
    small, large = (w.static_figure("a", [0.5], dpi=d) for d in (40, 80))
    from PIL import Image
    import io
    size = [Image.open(io.BytesIO(f.frames[0])).size for f in (small, large)]
    assert size == [(120, 80), (240, 160)]                     # 3 x 2 inches


@pytest.mark.parametrize("kwargs, match", [
    ({"slider": "b"}, "slider must name a control"),
    ({"slider": "a"}, "values must be given for control 'a'"),
    ({"slider": "a", "values": []}, "values must hold at least one value"),
    ({"slider": "a", "values": 0.5}, "values must be a list"),
    ({"slider": "a", "values": [0.5, 1.5]}, r"values\[1\]"),
    ({"slider": "a", "values": [0.5, 0.5]}, "values must not repeat"),
    ({"slider": "a", "values": [0.5], "select": "a"}, "select must name another control"),
    ({"slider": "a", "values": [0.5], "select": "colour"}, "select must name a control"),
    ({"slider": "a", "values": [0.5], "select": "kind", "options": ["green"]}, r"options\[0\]"),
    ({"slider": "a", "values": [0.5], "options": ["red"]}, "options must be None"),
    ({"slider": "a", "values": [0.5], "fixed": {"kind": "green"}}, r"fixed\['kind'\]\[0\]"),
    ({"slider": "a", "values": [0.5], "fixed": {"a": 0.1}}, "fixed must not set"),
    ({"slider": "a", "values": [0.5], "fixed": [1]}, "fixed must be a dict"),
    ({"slider": "a", "values": [0.5], "dpi": 5}, "dpi"),
    ({"slider": "a", "values": list(np.linspace(0, 1, MAX_FRAMES // 2 + 1)), "select": "kind"},
     "frames; at most"),
])
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        toy_explorer().static_figure(**kwargs)


def test_static_figure_class_checks_its_inputs():
    png = figure_png(plt.figure(figsize=(1, 1)), dpi=20)
    plt.close("all")
    with pytest.raises(ValueError, match="frames must hold"):
        StaticFigure([png], ["a", "b"])
    with pytest.raises(ValueError, match=r"frames\[0\] must be the bytes of a PNG"):
        StaticFigure([b"GIF89a"], ["a"])
    with pytest.raises(ValueError, match="captions must hold"):
        StaticFigure([png, png], ["a", "b"], captions=["x"])
    with pytest.raises(ValueError, match="slider_labels must hold"):
        StaticFigure([], [])
    with pytest.raises(ValueError, match="start"):
        StaticFigure([png], ["a"], start=(0, 3))
    fig = StaticFigure([png, png], ["a", "b"], captions=["</script><b>", "x"])
    assert "</script><b>" not in fig.to_html()                 # escaped, in HTML and in JS


# ------------------------------------------------------------------ the book's explorers
@pytest.fixture(scope="module")
def small(small_mnist):
    model = sl.MLP([784, 32, 16, 10], head="lq", seed=0)
    sl.train(model, small_mnist.x_train, small_mnist.y_train,
             optimizer=sl.Adam(lr=1e-3, eps=1e-3), steps=150, batch_size=50, progress=False)
    return model, small_mnist.subset(n_train=500, n_test=300)


def test_prune_explorer(small):
    model, data = small
    w = widgets.prune_explorer(model, data, ratios=[0.0, 0.5, 0.9], maav_samples=200)
    fig = w.static_figure("ratio", [0.5, 0.9], select="method", options=["magnitude", "maav"],
                          dpi=40)
    assert fig.n_frames == 4 and fig.select_labels == ["magnitude |W|", "MAAV"]
    acc = w.result_at(method="maav", ratio=0.9)["accuracy"]
    assert fig.captions[3] == f"MAAV, 90% sparsity (hidden layers): test accuracy {acc:.3f}"
    assert w.controls["ratio"].value == 0.0
    with pytest.raises(ValueError, match=r"values\[1\] must be one of the explorer's ratios"):
        w.static_figure("ratio", [0.5, 0.7])


def test_forget_and_removal_explorers(small):
    model, data = small
    w = widgets.forget_explorer(model.copy(), data, ks=[0, 100, 200], target=3, k=0,
                                layers=(1,), n_digits=2)
    fig = w.static_figure("k", [0, 200], select="target", options=[3, 7], dpi=40)
    assert fig.n_frames == 4 and fig.captions[3].startswith("forget 7: k = 200")
    w = widgets.removal_explorer(model, data, amounts=[0.0, 0.5], time_repeats=0,
                                 batch_size=100)
    fig = w.static_figure("amount", select="criterion", options=["maav", "apoz"], dpi=40)
    assert fig.n_frames == 4 and fig.slider_labels == ["0.00", "0.50"]
    assert fig.captions[0].startswith("MAAV, amount 0.00: hidden widths [32, 16]")
