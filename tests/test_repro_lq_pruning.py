"""scripts/repro/lq.py and scripts/repro/pruning.py (targets 1-9): every experiment runs end to
end on tiny models and a slice of MNIST (the zoo is replaced, so nothing long is trained), and
returns JSON-able results with the keys the appendix reads; the MAAV identity check can fail."""
import numpy as np
import pytest

import sparana_lite as sl

from .scripts import import_script, roundtrip


@pytest.fixture
def tiny_zoo(monkeypatch, small_mnist):
    """Replace the zoo in both modules with small trained models of each configuration's head."""
    modules = [import_script("repro.lq"), import_script("repro.pruning")]

    def tiny_model(name, seed=0, steps=None):
        config = sl.zoo.CONFIGS[name]
        model = sl.MLP((784, 24, 16, 10), head=config.head, seed=seed)
        sl.train(model, small_mnist.x_train, small_mnist.y_train, steps=150, batch_size=50,
                 optimizer=sl.Adam(lr=1e-3, eps=1e-3), seed=seed, progress=False)
        model.metadata = {"steps": config.default_steps if steps is None else steps,
                          "train_seconds": 0.1,
                          "history": {"steps": [20, 40], "test_accuracy": [0.5, 0.6]}}
        return model

    for module in modules:
        monkeypatch.setattr(module, "zoo_model", tiny_model)
        monkeypatch.setattr(module, "dataset", lambda name: small_mnist)
    return modules


def test_lq_sce_records_both_heads_sizes_and_exactness(tiny_zoo):
    lq, _ = tiny_zoo
    r = roundtrip(lq.lq_sce_mnist(seeds=(0, 1), sizes=(None, 7)))
    book = sl.zoo.CONFIGS["lq-mnist"].default_steps
    assert [(e["steps"], e["seed"]) for e in r["runs"]] == [(book, 0), (book, 1), (7, 0), (7, 1)]
    for e in r["runs"]:
        assert 0.3 < e["lq"]["test_accuracy"] <= 1 and 0.3 < e["sce"]["test_accuracy"] <= 1
        assert 0 <= e["lq"]["near_0_or_1"] <= 1 and e["lq"]["p1_p99"][0] < e["lq"]["p1_p99"][1]
        lo, hi = e["sce"]["logit_min_max"]
        assert lo <= e["sce"]["p1_p99"][0] < e["sce"]["p1_p99"][1] <= hi
    shrink = r["runs"][0]["lq"]["shrinking"]
    assert shrink["widths_after"][1] < shrink["widths_before"][1]          # neurons went
    assert shrink["max_abs_diff_removed"] <= 1e-5 * max(1, shrink["output_scale"])
    assert len(set(shrink["accuracy"])) == 1
    assert "shrinking" not in r["runs"][1]["lq"]                            # seed 0 only


def test_attack_sweep_runs_every_attack(tiny_zoo):
    lq, _ = tiny_zoo
    r = roundtrip(lq.attack_sweep(seeds=(0, 1), sizes=(None,), strengths=(0.0, 0.2), n=50))
    names = {e["attack"] for e in r["runs"]}
    assert names == {"noise", "FGSM, loss", "FGSM, margin", "PGD, loss", "PGD, margin", "PGD, target"}
    for e in r["runs"]:
        assert e["success"][0] == 0                                         # strength 0 fools none
        assert e["seed"] == 0 or not e["attack"].startswith("PGD")          # PGD on the first seed
    assert max(e["success"][1] for e in r["runs"] if e["attack"] == "PGD, margin") > 0.3


def test_prune_and_2019_experiments(tiny_zoo):
    _, pruning = tiny_zoo
    r = roundtrip(pruning.prune_lq_mnist_seeds(seeds=(0,), sizes=(None, 9)))
    assert [m["steps"] for m in r["models"]] == [sl.zoo.CONFIGS["lq-mnist"].default_steps, 9]
    for m in r["models"]:
        assert set(m["accuracy"]) == set(pruning.METHODS) and m["ratios"] == pruning.PRUNE_RATIOS
        assert m["accuracy"]["magnitude"][0] == m["unpruned"]
    r = roundtrip(pruning.sgd_2019(sizes=((None, 20),), eval_every=10))
    run = r["runs"][0]
    assert run["retrain_curve"]["steps"] == [10, 20] and run["sparsity_kept"]
    assert run["pruned"] <= run["trained"] and run["retrained"] == run["retrain_curve"]["accuracy"][-1]


def test_maav_identity_is_a_real_check(tiny_zoo, small_mnist):
    _, pruning = tiny_zoo
    model = tiny_zoo[0].zoo_model("lq-mnist")
    x = small_mnist.x_train[:30]
    r = pruning.maav_identity(model, x)
    assert max(r["max_relative_difference"]) < 1e-6
    assert r["always_zero_inputs"][0]["inputs_always_zero"] == int(np.all(x == 0, axis=0).sum())
    # a MAAV that ignored the inputs (|W| alone) would be caught
    real = sl.prune.maav
    try:
        pruning.sl.prune.maav = lambda m, xs: [np.abs(W) for W in m.weights]
        broken = pruning.maav_identity(model, x)
    finally:
        pruning.sl.prune.maav = real
    assert max(broken["max_relative_difference"]) > 1e-3
