"""scripts/repro/forgetting.py's forget-methods and forget-classes on a small network: every
method's curve, the summaries' rule, the forgetting cost, and the blog-sized fallback."""
import json

import numpy as np
import pytest

import sparana_lite as sl

from .scripts import import_script, roundtrip
from .test_repro_forgetting import data, forgetting, small_model  # noqa: F401 (fixtures)


def test_first_below_follows_the_parameters_changed(forgetting):
    f = forgetting
    # unordered points: the first below 10% along the count is the one with 300 changed
    got = f.first_below([0.5, 0.02, 0.08, 0.9], [0.9, 0.5, 0.8, 0.99], [500, 900, 300, 0], 0.1)
    assert got == {"retain": 0.8, "changed": 300, "forget": 0.08}
    assert f.first_below([0.5, 0.2], [0.9, 0.8], [0, 10], 0.1) is None


def test_forgetting_cost_is_the_mean_accuracy_over_k(forgetting):
    f = forgetting
    assert f.forgetting_cost([1, 1, 1], [0, 10, 20]) == pytest.approx(1.0)
    assert f.forgetting_cost([1, 0, 0], [0, 10, 20]) == pytest.approx(0.25)
    # a class that falls later costs more, even if neither reaches a level
    assert f.forgetting_cost([1, .9, .5], [0, 1, 2]) > f.forgetting_cost([1, .5, .5], [0, 1, 2])


def test_compare_methods_gives_every_curve(forgetting, data, monkeypatch):
    f = forgetting
    monkeypatch.setattr(f, "METHOD_KS", [0, 250, 500, 1000, 2000])
    monkeypatch.setattr(f, "SSD_ALPHAS", [100, 10, 2])
    monkeypatch.setattr(f, "SP_FRACTION", 0.1)
    monkeypatch.setattr(f, "SP_MAX_STEPS", 4)
    model = small_model(data, 0)
    out = roundtrip(f.compare_methods(model, data, 0))
    curves = out["curves"]
    assert set(curves) == set(f.K_METHODS) | set(f.SSD_VARIANTS) | {"selective_pruning"}
    assert set(curves) <= set(f.METHOD_LABELS)
    for name, c in curves.items():
        n = len(c["changed"])
        assert len(c["forget"]) == len(c["retain"]) == n
        assert set(c["summary"]) == {"below_10", "below_5"}
        for level, s in zip(f.LEVELS, c["summary"].values()):
            assert s == f.first_below(c["forget"], c["retain"], c["changed"], level)
    for m in f.K_METHODS:
        assert curves[m]["k"] == f.METHOD_KS
        assert curves[m]["changed"][0] == 0 and curves[m]["forget"][0] == out["base_forget"]
    assert curves["maav_difference"]["changed"] == [2 * k for k in f.METHOD_KS]
    assert all(c <= 2 * k for c, k in zip(curves["selective_pruning_k"]["changed"], f.METHOD_KS))
    # SSD: one point per alpha, the published alpha's point among them
    for name in f.SSD_VARIANTS:
        assert curves[name]["alpha"] == f.SSD_ALPHAS
        pub = curves[name]["at_published_alpha"]
        i = f.SSD_ALPHAS.index(10)
        assert pub["changed"] == curves[name]["changed"][i]
    # biases dampened: more parameters changed than the weights alone
    assert curves["ssd_published"]["changed"][-1] >= curves["ssd_weights_only"]["changed"][-1]
    sp = curves["selective_pruning"]
    assert sp["step"][0] == 0 and sp["neurons"][0] == 0 and sp["changed"][0] == 0
    assert np.all(np.diff(sp["changed"]) > 0)
    assert sp["neurons"][1] == int(np.ceil(0.1 * 64)) * 2
    assert len(sp["step"]) <= f.SP_MAX_STEPS + 1
    assert sp["forget"][-1] < f.SP_STOP or len(sp["step"]) == f.SP_MAX_STEPS + 1


def test_forget_classes_reads_stored_sweeps_and_measures_the_others(forgetting, data,
                                                                    monkeypatch, tmp_path):
    f = forgetting
    monkeypatch.setattr(f, "KS_ALL", [0, 500, 1000])
    trained = []

    def fake_zoo_model(name, seed=0, steps=None):
        trained.append((seed, steps))
        return small_model(data, seed, steps=20)

    cached = {(0, 20)}                                    # only book-sized seed 0 is cached
    monkeypatch.setattr(f.common, "zoo_model", fake_zoo_model)
    monkeypatch.setattr(f.common, "dataset", lambda name: data)
    monkeypatch.setattr(f.common, "book_and_blog_steps", lambda name: {"book": 20, "blog": 200})
    monkeypatch.setattr(f.sl.zoo, "path", lambda name, seed, steps: type(
        "P", (), {"exists": lambda self: (seed, steps) in cached})())
    stored = {"results": {"grids": {"ks_all_classes": [0, 500, 1000]}, "runs": [
        {"size": size, "seed": s, "all_classes": {
            "target": [[1.0, 0.5, 0.1 * c / 10] for c in range(10)],
            "rest": [[1.0, 0.9, 0.8]] * 10}} for size in ("book", "blog") for s in (0, 1)]},
        "provenance": {"commit": "abcdef0123"}}
    results = tmp_path / "book" / "results"
    results.mkdir(parents=True)
    (results / f.FORGET_RESULTS).write_text(json.dumps(stored))
    monkeypatch.setattr(f.common, "RESULTS", results)   # where experiments read results files
    out = roundtrip(f.forget_classes(seeds=(0, 1, 2), blog_seeds=(0, 1)))
    runs = {(r["size"], r["seed"]): r for r in out["runs"]}
    # stored: read (cached or not); not stored: measured (trained if not cached)
    assert trained == [(2, 20)]
    assert runs["book", 2]["source"] == "computed"
    assert runs["book", 0]["source"] == runs["book", 1]["source"] == \
        f"{f.FORGET_RESULTS} (commit abcdef0)"
    assert runs["blog", 1]["source"] == f"{f.FORGET_RESULTS} (commit abcdef0)"
    base = small_model(data, 2, steps=20).class_accuracy(data.x_test, data.y_test)
    assert [t[0] for t in runs["book", 2]["target"]] == pytest.approx(base, abs=1e-6)
    blog = runs["blog", 0]
    assert blog["cost"][9] == pytest.approx(f.forgetting_cost([1.0, 0.5, 0.09], [0, 500, 1000]))
    assert blog["k_below_10"] == [1000] * 10 == blog["k_below_50"]
    # another grid in the stored file is refused, not silently mixed
    stored["results"]["grids"]["ks_all_classes"] = [0, 1000]
    (results / f.FORGET_RESULTS).write_text(json.dumps(stored))
    with pytest.raises(ValueError, match="grid"):
        f.forget_classes(seeds=(2,), blog_seeds=())


def test_forget_methods_runs_the_cached_models_first(forgetting, data, monkeypatch):
    f = forgetting
    order = []
    monkeypatch.setattr(f.common, "dataset", lambda name: data)
    monkeypatch.setattr(f.common, "zoo_model", lambda name, seed=0, steps=None: (
        order.append(seed), type("M", (), {"metadata": {"steps": 20}})())[1])
    monkeypatch.setattr(f.sl.zoo, "path", lambda name, seed, steps=None: type(
        "P", (), {"exists": lambda self: seed == 3})())
    monkeypatch.setattr(f, "compare_methods", lambda model, ds, seed: {"curves": {}})
    out = f.forget_methods(seeds=(1, 2, 3))
    assert order == [3, 1, 2] and [r["seed"] for r in out["runs"]] == [1, 2, 3]


def test_the_experiments_are_registered(forgetting):
    reproduce = import_script("reproduce")
    assert {"forget-methods", "forget-classes"} <= set(reproduce.EXPERIMENTS)
    assert set(forgetting.KS_ALL) >= set(range(0, 20_001, 1000))
    assert sl.zoo.CONFIGS["lq-mnist"].default_steps == 5000
