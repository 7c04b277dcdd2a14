"""The removal explorer, headless: set a control's .value as a reader would, check what is shown."""
import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest

import sparana_lite as sl
from sparana_lite.removal_explorer import Remover


@pytest.fixture(scope="module")
def small(small_mnist):
    model = sl.MLP([784, 40, 30, 20, 10], seed=0)
    sl.train(model, small_mnist.x_train, small_mnist.y_train, steps=40, progress=False)
    return model, small_mnist


def test_explorer_moves_caches_and_matches_a_direct_computation(small):
    model, data = small
    w = sl.widgets.removal_explorer(model, data, amounts=[0.0, 0.5, 0.9], batch_size=100,
                                    time_repeats=2)
    assert isinstance(w, ipywidgets.Box)
    assert w.result["widths"] == model.widths and w.result["criterion"] == "maav"
    w.controls["amount"].value = 0.9
    r = w.result
    pruned = sl.schedule.prune_step(model, "maav", 0.9, data.x_train[:2000])
    shrunk = sl.remove_activations(pruned)
    assert r["widths"] == shrunk.widths
    assert r["accuracy"] == shrunk.accuracy(data.x_test, data.y_test)
    assert r["max_output_change"] < 1e-4 and r["speedup"] > 0 and r["flop_ratio"] >= 1
    w.controls["criterion"].value = "apoz"
    assert w.result["criterion"] == "apoz" and len(w.cache) == 3
    w.controls["criterion"].value = "maav"
    assert w.result is r and len(w.cache) == 3            # cached: nothing recomputed
    assert w.figure is not None and not plt.get_fignums()  # shown figures are closed


def test_sweep_and_figure(small):
    model, data = small
    res = sl.widgets.removal_sweep(model, data, criteria=["maav", "group_norm"],
                                   amounts=[0.0, 0.5], time_repeats=0, n_test=200)
    assert set(res) == {("maav", 0.0), ("maav", 0.5), ("group_norm", 0.0), ("group_norm", 0.5)}
    assert res["group_norm", 0.5]["speedup"] is None
    hidden = sum(model.widths[1:-1])
    assert sum(res["group_norm", 0.5]["widths"][1:-1]) == hidden - hidden // 2
    fig = sl.widgets.removal_sweep_figure(res)
    assert len(fig.axes) >= 4
    plt.close(fig)


def test_bad_inputs(small):
    model, data = small
    with pytest.raises(ValueError, match="criteria"):
        sl.widgets.removal_explorer(model, data, criteria=["size"])
    with pytest.raises(ValueError, match="amount"):
        sl.widgets.removal_explorer(model, data, amounts=[0.0, 0.5], amount=0.3, time_repeats=0)
    with pytest.raises(ValueError, match="amounts"):
        sl.widgets.removal_explorer(model, data, amounts=[1.5])
    with pytest.raises(TypeError, match="model"):
        Remover("m", data)
    with pytest.raises(TypeError, match="data"):
        Remover(model, (data.x_train, data.y_train))
    with pytest.raises(ValueError, match="batch_size"):
        Remover(model, data, batch_size=10**6)
    with pytest.raises(ValueError, match="criterion"):
        Remover(model, data, time_repeats=0).result("size", 0.5)
