"""scripts/repro/removal.py: every experiment runs end to end on tiny untrained models and a
small slice of MNIST (the zoo is replaced, so nothing is trained), and returns JSON-able
results with the keys the appendix reads."""
import pytest

import sparana_lite as sl

from .scripts import import_script, roundtrip


@pytest.fixture
def removal(monkeypatch, small_mnist):
    module = import_script("repro.removal")
    hidden = {"lq-mnist": (24, 16, 8), "lq-mnist-1000x3": (16, 16, 16),
              "lq-mnist-longboy": (12,) * 6}

    def tiny_model(name, seed=0, steps=None):
        model = sl.MLP((784, *hidden[name], 10), seed=seed)
        model.metadata["steps"] = sl.zoo.CONFIGS[name].default_steps if steps is None else steps
        return model

    monkeypatch.setattr(module, "zoo_model", tiny_model)
    monkeypatch.setattr(module, "dataset", lambda name: small_mnist)
    return module


def test_targets_name_experiments_of_the_module(removal):
    assert set(removal.TARGETS) == {10, 16, 17, 18, 19}
    # every experiment measures a target; the deep blog-sized runs are experiments of their own
    assert {t["experiment"] for t in removal.TARGETS.values()} | {
        "removal-1000x3-20000", "removal-longboy-20000"} == set(removal.EXPERIMENTS)


def test_removal_lq_mnist_records_both_sizes_and_schedules(removal):
    r = roundtrip(removal.removal_lq_mnist(seeds=(0,), sizes=(None, 7), amounts=[0.5, 0.9],
                                           n_steps=3))
    book = sl.zoo.CONFIGS["lq-mnist"].default_steps
    assert r["sizes"] == {"book": book, "blog": 7}
    assert [e["steps"] for e in r["runs"]] == [book, 7]
    for e in r["runs"]:
        for schedule, n in (("one-shot", 3), ("iterative", 4)):
            run = e[schedule]
            assert len(run["widths"]) == len(run["size_left"]) == len(run["accuracy"]) == n
            assert run["widths"][0] == e["widths"] and len(run["kept_at"]) == 3
            assert run["max_relative_change"] <= r["exact_tol"]


def test_removal_control_covers_every_criterion(removal):
    r = roundtrip(removal.removal_control(seeds=(1,), sizes=(None,), weight_amounts=[0.9],
                                          neuron_amounts=[0.5], n_test=200))
    (e,) = r["runs"]
    assert set(e["criteria"]) == set(sl.schedule.CRITERIA) == set(r["criteria"])
    for run in e["criteria"].values():
        assert len(run["accuracy_at_dense"]) == len(r["compare_at_dense_size"])
    assert e["criteria"]["apoz"]["widths"][1] != e["widths"]   # neuron criteria remove neurons


def test_removal_timing_keeps_ratios_only(removal):
    r = roundtrip(removal.removal_timing(sizes=(None,), sparsities=[0.5, 0.9], batch=50,
                                         repeats=2))
    (e,) = r["runs"]
    for clock in ("cpu", "wall"):
        for kind in ("masked", "csr", "shrunk"):
            assert len(e[clock]["speedup_median"][kind]) == len(e["flop_ratio"][kind]) == 2
            assert all(v > 0 for v in e[clock]["speedup_fastest"][kind])
    assert e["flop_ratio"]["masked"] == [1.0, 1.0]
    assert e["max_relative_difference"] < 1e-5


def test_deep_runs_blog_size_only_for_blog_seeds(removal):
    r = roundtrip(removal.removal_1000x3(seeds=(0, 1), sizes=(None, 7), blog_seeds=(0,)))
    assert sorted((e["steps"], e["seed"], e["prune_last"]) for e in r["runs"]) == [
        (7, 0, False), (7, 0, True), (500, 0, False), (500, 0, True),
        (500, 1, False), (500, 1, True)]
    r = roundtrip(removal.removal_longboy(seeds=(0,), sizes=(None,)))
    (e,) = r["runs"]
    assert e["prune_last"] and len(e["kept_at"][str(r["at_main"])]) == 6
