"""Widgets, headless: set a control's .value as a reader would, check what is computed and drawn."""
import ipywidgets
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

import sparana_lite as sl
from sparana_lite import attacks, widgets

matplotlib.use("Agg")

RNG = np.random.default_rng(5)
X = RNG.random((6, 784), dtype=np.float32)
Y = RNG.integers(0, 10, 6)
STRENGTHS = [0.0, 0.1, 0.3]


@pytest.fixture(scope="module")
def pair():
    return (sl.MLP([784, 16, 10], head="lq", seed=0), sl.MLP([784, 16, 10], head="sce", seed=0))


def bar_heights(fig, row):
    """Heights of the output bars drawn in row ``row`` of an attack figure."""
    bar_axes = [ax for ax in fig.axes if ax.patches]
    return np.array([p.get_height() for p in bar_axes[row].patches])


def test_explorer_starts_drawn_and_exposes_its_parts(pair):
    w = widgets.attack_explorer(*pair, X, Y, STRENGTHS)
    assert isinstance(w, ipywidgets.Box)
    assert set(w.controls) == {"strength", "index", "method", "objective"}
    assert isinstance(w.controls["strength"], ipywidgets.SelectionSlider)
    assert w.controls["strength"].continuous_update is False
    assert w.controls["index"].continuous_update is False
    assert len(w.cache) == 1 and w.result["strength"] == 0.0
    assert w.figure is not None and not plt.fignum_exists(w.figure.number)   # closed: no leak
    for row, name in enumerate(["LQ", "SCE"]):
        np.testing.assert_array_equal(w.result["images"][name], X[0])       # strength 0
        np.testing.assert_allclose(bar_heights(w.figure, row), w.result["outputs"][name])


def test_moving_the_slider_computes_once_and_shows_the_new_result(pair):
    lq, sce = pair
    w = widgets.attack_explorer(lq, sce, X, Y, STRENGTHS, index=2)
    first = w.result
    w.controls["strength"].value = 0.1
    assert len(w.cache) == 2 and w.result["strength"] == 0.1 and w.result["index"] == 2
    for row, (name, model) in enumerate([("LQ", lq), ("SCE", sce)]):
        expected = attacks.fgsm(model, X[2:3], Y[2:3], 0.1)
        np.testing.assert_array_equal(w.result["images"][name], expected[0])
        np.testing.assert_allclose(w.result["outputs"][name], model.output(expected)[0], rtol=1e-6)
        np.testing.assert_allclose(bar_heights(w.figure, row), w.result["outputs"][name])
        assert not np.allclose(bar_heights(w.figure, row), first["outputs"][name])
    shown = w.result
    w.controls["strength"].value = 0.0        # back: served from the cache, the same object
    assert len(w.cache) == 2 and w.result is first
    w.controls["strength"].value = 0.1
    assert w.result is shown
    w.controls["index"].value = 4
    assert len(w.cache) == 3 and w.result["index"] == 4 and w.result["label"] == int(Y[4])
    w.controls["objective"].value = "margin"
    assert len(w.cache) == 4 and w.result["objective"] == "margin"
    np.testing.assert_array_equal(w.result["images"]["LQ"],
                                  attacks.fgsm(lq, X[4:5], Y[4:5], 0.1, objective="margin")[0])
    w.controls["method"].value = "pgd"
    assert len(w.cache) == 5 and w.result["method"] == "pgd"
    np.testing.assert_array_equal(w.result["images"]["SCE"],
                                  attacks.pgd(sce, X[4:5], Y[4:5], 0.1, objective="margin")[0])
    w.controls["objective"].value = "target"
    assert len(w.cache) == 6 and w.result["objective"] == "target"
    np.testing.assert_array_equal(w.result["images"]["LQ"],
                                  attacks.pgd(lq, X[4:5], Y[4:5], 0.1, objective="target")[0])
    w.controls["method"].value = "noise"
    assert len(w.cache) == 7 and w.result["method"] == "noise"
    # model-free noise: both models see the same input
    np.testing.assert_array_equal(w.result["images"]["LQ"], w.result["images"]["SCE"])
    assert np.abs(w.result["images"]["LQ"] - X[4]).max() <= 0.1 + 1e-6


def test_figures_do_not_accumulate(pair):
    before = len(plt.get_fignums())
    w = widgets.attack_explorer(*pair, X, Y, STRENGTHS)
    for s in STRENGTHS * 2:
        w.controls["strength"].value = s
    assert len(plt.get_fignums()) == before


def test_static_sweep_figure(pair):
    fig = widgets.attack_sweep_figure(*pair, X, Y, STRENGTHS, index=1, objective="margin")
    assert len(fig.axes) == 2 * len(STRENGTHS)
    assert all(ax.images for ax in fig.axes)
    plt.close(fig)


@pytest.mark.parametrize("kwargs, match", [
    ({"strengths": []}, "strengths"),
    ({"strengths": [0.1, -0.1]}, r"strengths\[1\]"),
    ({"strengths": [0.1, 0.1]}, "repeat"),
    ({"strengths": 0.1}, "strengths"),
    ({"method": "cw"}, "method"),
    ({"index": 6}, "index"),
    ({"index": -1}, "index"),
    ({"noise_kind": "gaussian"}, "noise_kind"),
    ({"objective": "hinge"}, "objective"),
    ({"classes": ["a", "b"]}, "classes"),
])
def test_bad_arguments(pair, kwargs, match):
    args = {"strengths": STRENGTHS, **kwargs}
    with pytest.raises(ValueError, match=match):
        widgets.attack_explorer(*pair, X, Y, **args)


def test_sweep_figure_checks_its_arguments(pair):
    with pytest.raises(ValueError, match="index"):
        widgets.attack_sweep_figure(*pair, X, Y, STRENGTHS, index=99)
    with pytest.raises(ValueError, match="method"):
        widgets.attack_sweep_figure(*pair, X, Y, STRENGTHS, method="cw")


def test_bad_data_and_models(pair):
    lq, sce = pair
    with pytest.raises(ValueError, match="x must have 784 features"):
        widgets.attack_explorer(lq, sce, X[:, :10], Y, STRENGTHS)
    with pytest.raises(ValueError, match="y has 2 labels"):
        widgets.attack_explorer(lq, sce, X, Y[:2], STRENGTHS)
    with pytest.raises(TypeError, match="sce_model"):
        widgets.attack_explorer(lq, "model", X, Y, STRENGTHS)
    with pytest.raises(ValueError, match="same inputs"):
        widgets.attack_explorer(lq, sl.MLP([784, 4, 3], head="sce"), X, Y % 3, STRENGTHS)


def test_explorer_base_is_reusable():
    calls = []

    def compute(a):
        calls.append(a)
        return {"a": a}

    def draw(result):
        fig, ax = plt.subplots()
        ax.bar([0], [result["a"]])
        return fig

    w = widgets.Explorer({"a": ipywidgets.FloatSlider(value=0.5, continuous_update=False)},
                         compute, draw, header="<b>test</b>")
    w.controls["a"].value = 0.7
    w.controls["a"].value = 0.5
    assert calls == [0.5, 0.7]
    assert w.result == {"a": 0.5} and w.key == (("a", 0.5),)
    assert w.figure.axes[0].patches[0].get_height() == 0.5
