"""scripts/repro/forgetting.py (targets 11-15) on a small network: the structure of its
results, the chapters' rules, and that the gold standard is optional at the blog's size."""
import json

import numpy as np
import pytest

import sparana_lite as sl

from .scripts import import_script


@pytest.fixture(scope="module")
def forgetting():
    return import_script("repro.forgetting")


@pytest.fixture(scope="module")
def data(mnist):
    return mnist.subset(n_train=3000, n_test=1000)


def small_model(data, seed, steps=60, without=None):
    """784-64-64-48-10, trained a little so the classes differ; with :func:`small_grids`,
    every middle layer holds more weights than the largest k, like the blog's network."""
    x, y = data.x_train, data.y_train
    if without is not None:
        x, y = x[y != without], y[y != without]
    model = sl.MLP([784, 64, 64, 48, 10], seed=seed)
    sl.train(model, x, y, optimizer=sl.Adam(lr=1e-3, eps=1e-3), steps=steps, batch_size=100,
             seed=seed, progress=False)
    return model


def test_the_grids_are_the_chapters(forgetting):
    f = forgetting
    assert f.KS == list(range(0, 10_001, 500)) and f.KS_CONTROL == f.KS[::2]
    assert set(f.KS) <= set(f.KS_SINGLE) and set(range(0, 20_001, 1000)) <= set(f.KS_SINGLE)
    assert set(range(0, 15_001, 1000)) <= set(f.KS_ALL) and f.K_BLOG in f.KS


def small_grids(f, monkeypatch):
    """The module's grids, scaled down to the small network (3,072 weights in layer 3)."""
    monkeypatch.setattr(f, "KS", list(range(0, 2001, 250)))
    monkeypatch.setattr(f, "KS_SINGLE", list(range(0, 2001, 250)) + [3000])
    monkeypatch.setattr(f, "KS_CONTROL", list(range(0, 2001, 500)))
    monkeypatch.setattr(f, "KS_FIRST", [0, 500, 1000, 3000])
    monkeypatch.setattr(f, "KS_ALL", [0, 1000, 2000])
    monkeypatch.setattr(f, "K_BLOG", 1000)


def test_analyse_keeps_the_grids_and_the_chapters_rules(forgetting, data, monkeypatch):
    f = forgetting
    small_grids(f, monkeypatch)
    model = small_model(data, 0)
    gold = small_model(data, 0, without=f.TARGET)
    out = f.analyse(model, data, seed=0, gold=gold, probe_images=2000)
    json.dumps(out)                                  # JSON-able
    assert len(out["both"]["target"]) == len(f.KS) == len(out["both"]["target_train"])
    assert all(len(out["single"][n]["target"]) == len(f.KS_SINGLE) for n in out["single"])
    assert all(len(c["target"]) == len(f.KS_CONTROL) for c in out["controls"].values())
    # k = 0 is the unedited network, in every sweep
    for curves in [out["both"], *out["single"].values(), *out["controls"].values()]:
        assert curves["target"][0] == out["base_target"] and curves["rest"][0] == out["base_rest"]
    assert out["all_classes"]["target"][f.TARGET][0] == out["base_target"]
    # the chapters' rule for the first k below a level
    t = out["both"]["target"]
    below = [k for k, v in zip(f.KS, t) if v < 0.5]
    assert out["both"]["k_below_50"] == (below[0] if below else None)
    assert out["both"]["k_below_50"] == f._below(t, f.KS, 0.5)
    # where the 7s go: a distribution over the ten classes, the 7 included
    conf = np.array(out["outputs"]["confusion"])
    assert conf.shape == (len(f.KS), 10) and np.allclose(conf.sum(axis=1), 1, atol=1e-5)
    assert conf[0, f.TARGET] == pytest.approx(out["base_target"], abs=1e-6)
    # zeroing the output column and its bias: (almost) no 7 is predicted any more
    assert out["output_column"]["column_bias_target"] < 0.02 < out["base_target"]
    assert out["output_column"]["weights"] == 48
    assert len(out["probes"]["gold"]) == 3 and out["gold"]["target"] < 0.02
    assert out["pixels"]["vs_ones"]["where_at_most"][1] == out["pixels"]["vs_ones"]["read_as_1"][-1]


def test_the_gold_standard_is_optional_at_the_blogs_size(forgetting, data, monkeypatch):
    f = forgetting
    models = {}

    def fake_zoo_model(name, seed=0, steps=None):
        models.setdefault((name, seed, steps), small_model(
            data, seed, steps=20, without=f.TARGET if name == f.GOLD else None))
        return models[(name, seed, steps)]

    cached = {(f.GOLD, 1, 200)}
    monkeypatch.setattr(f.common, "zoo_model", fake_zoo_model)
    monkeypatch.setattr(f.common, "dataset", lambda name: data)
    monkeypatch.setattr(f.common, "book_and_blog_steps", lambda name: {"book": 20, "blog": 200})
    monkeypatch.setattr(f.sl.zoo, "path", lambda name, seed, steps: type(
        "P", (), {"exists": lambda self: (name, seed, steps) in cached})())
    monkeypatch.setattr(f, "analyse", lambda *a, gold=None, **k: {"gold": gold is not None})
    out = f.forget_lq_mnist(seeds=(0, 1), all_classes=False)
    used = {(r["size"], r["seed"]): r["gold"] for r in out["runs"]}
    assert used == {("book", 0): True, ("book", 1): True, ("blog", 0): False, ("blog", 1): True}
    assert [r["steps"] for r in out["runs"]] == [20, 20, 200, 200]
    out = f.forget_lq_mnist(seeds=(0,), sizes=("blog",), gold=False)
    assert out["runs"][0]["gold"] is False
    assert (f.GOLD, 0, 200) not in models         # never trained when it is not cached
