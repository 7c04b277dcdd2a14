"""The prune explorer, headless: set a control's .value as a reader would, check what is shown."""
import time

import ipywidgets
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

import sparana_lite as sl
from sparana_lite.prune_explorer import (PruneExplorer, prune_explorer, prune_sweep,
                                         prune_sweep_figure, surviving_picture)

matplotlib.use("Agg")

RATIOS = [0.0, 0.5, 0.8, 0.9]


@pytest.fixture(scope="module")
def small(small_mnist):
    """A small trained model (784-64-32-10) and 2,000/1,000 MNIST images."""
    model = sl.MLP([784, 64, 32, 10], head="lq", seed=0)
    sl.train(model, small_mnist.x_train, small_mnist.y_train, optimizer=sl.Adam(lr=1e-3, eps=1e-3),
             steps=300, batch_size=50, progress=False)
    return model, small_mnist


def bar_heights(fig):
    """Heights of the pruned model's class bars (the second bar series of the first axes)."""
    patches = fig.axes[0].patches
    return np.array([p.get_height() for p in patches[len(patches) // 2:]])


def expected(model, data, scores, **how):
    pruned = sl.prune.prune(model, scores, **how)
    return pruned, pruned.accuracy(data.x_test, data.y_test), \
        pruned.class_accuracy(data.x_test, data.y_test)


def check_shows(w, pruned, acc, class_acc, layer=1):
    r = w.result
    assert r["accuracy"] == acc
    np.testing.assert_array_equal(r["class_accuracy"], class_acc)
    assert r["sparsity"] == pruned.sparsity()
    assert r["nonzero"] == [int(np.count_nonzero(W)) for W in pruned.weights]
    np.testing.assert_array_equal(r["picture"], surviving_picture(pruned.weights[layer])[0])
    np.testing.assert_allclose(bar_heights(w.figure), class_acc)


def test_starts_drawn_and_exposes_its_parts(small):
    model, data = small
    w = prune_explorer(model, data, ratios=RATIOS, maav_samples=500)
    assert isinstance(w, ipywidgets.Box) and isinstance(w, PruneExplorer)
    assert set(w.controls) == {"method", "ratio", "scope"}
    slider = w.controls["ratio"]
    assert isinstance(slider, ipywidgets.FloatSlider) and slider.continuous_update is False
    assert (slider.min, slider.max, slider.step) == (0.0, 0.9, 0.1)
    assert list(w.controls["method"].options) == [("magnitude |W|", "magnitude"),
                                                  ("MAAV", "maav"), ("random", "random")]
    assert len(w.cache) == 1 and w.result["ratio"] == 0.0 and w.result["method"] == "magnitude"
    assert w.result["accuracy"] == model.accuracy(data.x_test, data.y_test) > 0.8
    assert w.result["sparsity"] == [0.0, 0.0, 0.0]
    assert w.figure is not None and not plt.fignum_exists(w.figure.number)  # closed: no leak
    assert list(w.pruner.scores) == ["magnitude"]                           # scores on demand


def test_slider_prunes_like_the_library_and_moving_back_hits_the_cache(small):
    model, data = small
    w = prune_explorer(model, data, ratios=RATIOS)
    first = w.result
    w.controls["ratio"].value = 0.9
    assert len(w.cache) == 2 and w.result is not first and w.result["ratio"] == 0.9
    check_shows(w, *expected(model, data, sl.prune.magnitude(model), ratio=0.9))
    assert w.result["sparsity"][-1] == 0.0                                   # output spared
    shown, scores = w.result, w.pruner.scores["magnitude"]
    w.controls["ratio"].value = 0.0                                          # back: the cache
    assert len(w.cache) == 2 and w.result is first
    np.testing.assert_allclose(bar_heights(w.figure), first["class_accuracy"])
    w.controls["ratio"].value = 0.9
    assert w.result is shown and w.pruner.scores["magnitude"] is scores      # scored once


def test_maav_and_random_use_a_seeded_sample_and_seed(small):
    model, data = small
    w = prune_explorer(model, data, ratios=RATIOS, maav_samples=300, seed=4)
    idx = w.pruner.maav_indices
    assert len(idx) == 300 == len(set(idx.tolist())) and np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(idx, prune_explorer(model, data, ratios=RATIOS,
                                                      maav_samples=300, seed=4).pruner.maav_indices)
    w.controls["method"].value = "maav"
    w.controls["ratio"].value = 0.8
    check_shows(w, *expected(model, data, sl.prune.maav(model, data.x_train[idx]), ratio=0.8))
    w.controls["method"].value = "random"
    check_shows(w, *expected(model, data, sl.prune.random(model, seed=4), ratio=0.8))
    assert len(w.cache) == 4  # (magnitude, 0), (maav, 0), (maav, .8), (random, .8)


def test_scope_prunes_every_layer_or_one_layer(small):
    model, data = small
    w = prune_explorer(model, data, ratios=RATIOS, layer=0)
    scores = sl.prune.magnitude(model)
    w.controls["ratio"].value = 0.5
    w.controls["scope"].value = "all"
    check_shows(w, *expected(model, data, scores, ratio=0.5, prune_last=True), layer=0)
    w.controls["scope"].value = 2
    check_shows(w, *expected(model, data, scores, ratios=[None, None, 0.5]), layer=0)
    assert w.result["sparsity"][:2] == [0.0, 0.0]


def test_slider_snaps_to_the_grid(small):
    model, data = small
    w = prune_explorer(model, data, ratios=RATIOS)
    w.controls["ratio"].value = 0.87
    assert w.controls["ratio"].value == 0.9 and w.result["ratio"] == 0.9
    assert len(w.cache) == 2
    w.controls["ratio"].value = 0.42
    assert w.controls["ratio"].value == 0.5 and len(w.cache) == 3


def test_returning_to_a_setting_reuses_its_result_on_the_blogs_model_size(mnist):
    """An (untrained) 784-1000-800-400-10 model on the full 10,000-image test set: a new setting
    prunes and measures once, a visited one is served from the cache (counted, not timed, so a
    busy machine cannot make it fail). Fails if the explorer recomputes a visited setting, or
    shows a result other than the one computed for the current setting."""
    model = sl.MLP([784, 1000, 800, 400, 10], seed=0)
    w = prune_explorer(model, mnist, ratios=[0.0, 0.5, 0.9])
    computed = []
    compute = w.compute

    def counted(**setting):
        computed.append(setting["ratio"])
        return compute(**setting)
    w.compute = counted
    start = time.perf_counter()
    w.controls["ratio"].value = 0.9                # new: prune 3 layers + test accuracy
    uncached = time.perf_counter() - start
    first = w.result
    w.controls["ratio"].value = 0.0                # visited at start
    assert w.result["ratio"] == 0.0
    w.controls["ratio"].value = 0.9                # visited: from the cache
    assert computed == [0.9]
    assert w.result is first and w.result["ratio"] == 0.9 and w.last_seconds >= 0
    print(f"\nprune explorer, 784-1000-800-400-10 on 10,000 test images: new setting "
          f"{uncached:.2f} s, visited {w.last_seconds * 1000:.0f} ms")


def test_surviving_picture_averages_blocks():
    W = np.zeros((5, 4), dtype=np.float32)
    W[0, 0] = W[4, 3] = W[1, 1] = 1
    pic, block = surviving_picture(W, max_pixels=2)
    assert block == (3, 2)
    np.testing.assert_allclose(pic, [[2 / 6, 0], [0, 1 / 4]])
    pic, block = surviving_picture(W)
    assert block == (1, 1) and np.array_equal(pic, (W != 0).astype(np.float32))


def test_sweep_matches_the_explorer_and_draws(small):
    model, data = small
    results = prune_sweep(model, data, methods=["magnitude", "random"], ratios=RATIOS)
    w = prune_explorer(model, data, methods=["magnitude", "random"], ratios=RATIOS)
    w.controls["method"].value = "random"
    w.controls["ratio"].value = 0.8
    assert results["random", 0.8]["accuracy"] == w.result["accuracy"]
    assert results["none", 0.0]["accuracy"] == model.accuracy(data.x_test, data.y_test)
    fig = prune_sweep_figure(results, show_ratios=(0.5, 0.9))
    assert len(fig.axes) == 1 + 2 * 2 * 2
    plt.close(fig)
    with pytest.raises(ValueError, match="show_ratios"):
        prune_sweep_figure(results, show_ratios=(0.7,))


@pytest.mark.parametrize("kwargs, match", [
    ({"methods": ["magnitude", "size"]}, "methods"),
    ({"methods": []}, "methods"),
    ({"methods": "maav"}, "methods"),
    ({"methods": ["maav", "maav"]}, "methods"),
    ({"ratios": [0.0, 1.5]}, r"ratios\[1\]"),
    ({"ratios": [0.0, float("nan")]}, r"ratios\[1\]"),
    ({"ratios": [0.5]}, "ratios"),
    ({"ratios": [0.5, 0.5]}, "ratios"),
    ({"ratios": 0.5}, "ratios"),
    ({"layer": 3}, "layer"),
    ({"layer": True}, "layer"),
    ({"maav_samples": 0}, "maav_samples"),
    ({"maav_samples": 10**6}, "maav_samples"),
    ({"seed": -1}, "seed"),
    ({"method": "random", "methods": ["maav"]}, "method"),
    ({"ratio": 0.3}, "ratio"),
    ({"scope": "output"}, "scope"),
    ({"scope": 3}, "scope"),
    ({"classes": ["a", "b"]}, "classes"),
])
def test_bad_arguments_are_named(small, kwargs, match):
    model, data = small
    kwargs = {"ratios": RATIOS, **kwargs}
    with pytest.raises(ValueError, match=match):
        prune_explorer(model, data, **kwargs)


def test_bad_model_and_data(small):
    model, data = small
    with pytest.raises(TypeError, match="model"):
        prune_explorer("model", data)
    with pytest.raises(TypeError, match="data"):
        prune_explorer(model, (data.x_train, data.y_train))
    other = sl.MLP([100, 8, 10], seed=0)
    with pytest.raises(ValueError, match="data.x_train"):
        prune_explorer(other, data)


def test_layers_are_numbered_from_1_as_in_the_text():
    from sparana_lite.explorers import prune as P
    options = P._scope_options(4)
    assert ("layer 1 only", 0) in options and ("layer 4 only", 3) in options
