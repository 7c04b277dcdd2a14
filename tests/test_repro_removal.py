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
    # every experiment measures a target; the deep blog-sized runs, the grid of timings and the
    # triangle's controls are experiments of their own
    assert {t["experiment"] for t in removal.TARGETS.values()} | {
        "removal-1000x3-20000", "removal-longboy-20000", "removal-timing",
        "removal-triangle-controls", "removal-liu"} == set(removal.EXPERIMENTS)


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
    assert isinstance(e["load"]["busy"], bool) and len(e["load"]["load_average_1min"]) == 2


def test_deep_runs_blog_size_only_for_blog_seeds(removal):
    r = roundtrip(removal.removal_1000x3(seeds=(0, 1), sizes=(None, 7), blog_seeds=(0,)))
    assert sorted((e["steps"], e["seed"], e["prune_last"]) for e in r["runs"]) == [
        (7, 0, False), (7, 0, True), (500, 0, False), (500, 0, True),
        (500, 1, False), (500, 1, True)]
    r = roundtrip(removal.removal_longboy(seeds=(0,), sizes=(None,)))
    (e,) = r["runs"]
    assert e["prune_last"] and len(e["kept_at"][str(r["at_main"])]) == 6


def test_removal_speed_records_bands_budgets_and_load(removal):
    r = roundtrip(removal.removal_speed(seeds=(0,), criteria=("maav", "random"),
                                        amounts=[0.5, 0.9], fine_tune_steps=2, batches=(1, 50),
                                        repeats=2))
    assert [e["criterion"] for e in r["runs"]] == ["maav", "random"]
    for e in r["runs"]:
        assert len(e["accuracy"]) == len(e["accuracy_fine_tuned"]) == len(e["widths"]) == 2
        assert e["flop_ratio"]["masked"] == [1.0, 1.0]
        assert set(e["speedup"]) == {"1", "50"}
        assert set(e["load"]) >= {"load_average_1min", "other_cpu_share", "busy"}
        assert isinstance(e["null_control"]["ok"], bool)
        for budget in ("none", "fine-tuned"):
            for band in r["bands"]:
                kept = e["kept"][budget][str(band)]
                acc = e["accuracy"] if budget == "none" else [
                    a if f is None else max(a, f)
                    for a, f in zip(e["accuracy"], e["accuracy_fine_tuned"])]
                if kept["index"] is None:
                    assert all(a < e["base_accuracy"] - band for a in acc)
                    assert kept["shrunk"]["speedup_b50"] == 1.0
                else:
                    assert acc[kept["index"]] >= e["base_accuracy"] - band - 1e-9
                    assert all(a < e["base_accuracy"] - band for a in acc[kept["index"] + 1:])


def test_smallest_within_takes_the_most_pruned_model_in_the_band(removal):
    assert removal.smallest_within([0.97, 0.96, 0.90, 0.965], 0.97, 0.01) == 3
    assert removal.smallest_within([0.95, 0.90], 0.97, 0.01) is None
    assert removal.smallest_within([0.965, 0.5], 0.97, 0.005) == 0


def test_triangle_controls_every_schedule_and_seed(removal):
    r = roundtrip(removal.removal_triangle_controls(seeds=(0, 1)))
    for name, n_hidden in (("lq-mnist-1000x3", 3), ("lq-mnist-longboy", 6)):
        res = r[name]
        assert len(res["runs"]) == 2 * len(removal.TRIANGLE_SCHEDULES)
        for e in res["runs"]:
            assert len(e["kept_at"]) == len(e["size_when_shrinks"]) == n_hidden
            assert e["first_to_shrink"] in (None, *range(1, n_hidden + 1))


def test_first_to_shrink_and_size_when_shrinks():
    module = import_script("repro.removal")
    run = sl.schedule.RemovalRun("maav", "iterative")
    run.nonzero = [100, 50, 20]
    run.widths = [[5, 10, 10, 2], [5, 10, 6, 2], [5, 4, 2, 2]]
    # layer 2 falls to 0.9 a quarter of the way from record 0 (1.0) to record 1 (0.6): size
    # 0.875; layer 1 falls from 1.0 to 0.4 between records 1 and 2: 1/6 of the way, size 0.45
    assert module.size_when_shrinks(run) == [pytest.approx(0.45), pytest.approx(0.875)]
    assert module.first_to_shrink([0.45, 0.875]) == 2
    assert module.first_to_shrink([0.5, 0.5, None]) == 1
    assert module.first_to_shrink([None, None]) is None


def test_removal_liu_equal_nonzeros(removal):
    r = roundtrip(removal.removal_liu(seeds=(0,), sparsity=0.5, budgets=(2,)))
    (e,) = r["runs"]
    nets = e["budgets"]["2"]
    assert set(nets) == {"inherited", "same zeros, fresh", "dense, equal nonzeros",
                         "dense, shrunk widths"}
    assert nets["inherited"]["nonzero"] == nets["same zeros, fresh"]["nonzero"]
    assert abs(nets["dense, equal nonzeros"]["nonzero"] - nets["inherited"]["nonzero"]) \
        < 0.1 * nets["inherited"]["nonzero"]
    assert nets["dense, shrunk widths"]["nonzero"] > nets["inherited"]["nonzero"]
