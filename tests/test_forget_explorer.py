"""The forgetting explorer, headless: set a control's .value as a reader would, check what is shown."""
import ipywidgets
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

import sparana_lite as sl
from sparana_lite import forget as F
from sparana_lite.forget_explorer import ForgetExplorer

matplotlib.use("Agg")

KS = [0, 200, 400]


@pytest.fixture(scope="module")
def small(small_mnist):
    """A small trained model (784-64-32-16-10) and 2,000/1,000 MNIST images."""
    model = sl.MLP([784, 64, 32, 16, 10], head="lq", seed=0)
    sl.train(model, small_mnist.x_train, small_mnist.y_train, optimizer=sl.Adam(lr=1e-3, eps=1e-3),
             steps=300, batch_size=50, progress=False)
    return model, small_mnist


def test_explorer_shows_the_forgetter_results(small):
    model, data = small
    w = sl.widgets.forget_explorer(model, data, ks=KS, target=7, k=0)
    assert isinstance(w, ForgetExplorer) and isinstance(w, ipywidgets.Box)
    assert set(w.controls) == {"target", "k", "layers"}
    slider = w.controls["k"]
    assert isinstance(slider, ipywidgets.IntSlider) and slider.continuous_update is False
    assert (slider.min, slider.max, slider.step) == (0, 400, 200)
    np.testing.assert_array_equal(w.result["class_accuracy"],
                                  model.class_accuracy(data.x_test, data.y_test))
    for target, k, layers in [(7, 400, (1, 2)), (3, 200, (1,)), (3, 200, (2,))]:
        w.controls["target"].value = target
        w.controls["k"].value = k
        w.controls["layers"].value = layers
        edited = F.Forgetter(model, data.x_train, data.y_train, target).model_at(
            "maav_difference", k, layers)
        acc = edited.class_accuracy(data.x_test, data.y_test)
        np.testing.assert_allclose(w.result["class_accuracy"], acc, atol=2e-3)
        assert w.result["changed"] == [k] * len(layers)
        heights = np.array([p.get_height() for p in w.figure.axes[0].patches])
        np.testing.assert_allclose(heights[10:], w.result["class_accuracy"])
    w.controls["k"].value = 400
    n = len(w.cache)
    w.controls["k"].value = 200
    assert len(w.cache) == n                      # returning to a setting computes nothing
    assert plt.get_fignums() == []                # figures are closed after showing


def test_sweep_figure_and_bad_inputs(small):
    model, data = small
    f = F.Forgetter(model, data.x_train, data.y_train, 7)
    s = f.sweep("maav_difference", KS, x=data.x_test, y=data.y_test)
    fig = sl.widgets.forget_sweep_figure({"both": s})
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), s.target_accuracy())
    plt.close(fig)
    with pytest.raises(ValueError, match="evenly spaced"):
        sl.widgets.forget_explorer(model, data, ks=[0, 100, 300])
    with pytest.raises(ValueError, match="k must be one of ks"):
        sl.widgets.forget_explorer(model, data, ks=KS, k=50)
    with pytest.raises(ValueError, match="layers must be one of"):
        sl.widgets.forget_explorer(model, data, ks=KS, layers=(0,))
    with pytest.raises(ValueError, match="target must be"):
        sl.widgets.forget_explorer(model, data, ks=KS, target=10)
    with pytest.raises(ValueError, match="sweeps must be"):
        sl.widgets.forget_sweep_figure({})
