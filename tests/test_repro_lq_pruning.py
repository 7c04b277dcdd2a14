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


def test_paired_difference_counts_discordant_images_and_tests_them():
    lq = import_script("repro.lq")
    lq_right = np.array([True] * 90 + [False] * 10)
    sce_right = lq_right.copy()
    sce_right[:7] = False          # 7 images only LQ gets right
    sce_right[95:97] = True        # 2 only SCE gets right
    r = roundtrip(lq.paired_difference(lq_right, sce_right, n_bootstrap=2000))
    assert (r["lq_only"], r["sce_only"], r["n_images"]) == (7, 2, 100)
    assert r["lq_accuracy"] == 0.9 and r["sce_accuracy"] == 0.85 and r["difference"] == 5.0
    from scipy.stats import binom
    assert np.isclose(r["mcnemar_p"], 2 * binom.cdf(2, 9, 0.5))     # exact, two-sided
    assert r["image_interval"][0] < 5.0 < r["image_interval"][1]
    assert np.isclose(r["image_se"], 100 * np.sqrt(9 - 25 / 100) / 100)
    # no discordant image: no evidence either way, and a zero-width interval
    same = lq.paired_difference(lq_right, lq_right)
    assert same["mcnemar_p"] == 1.0 and same["image_interval"] == [0.0, 0.0]
    # the packed per-image record gives the same counts back
    bits = lq.unpack_bits(np.packbits(sce_right).tobytes().hex(), 100)
    assert np.array_equal(bits, sce_right)


def test_across_seeds_intervals():
    lq = import_script("repro.lq")
    rng = np.random.default_rng(0)
    base = rng.random((4, 2000)) < 0.9
    lq_right, sce_right = base.copy(), base.copy()
    for k, extra in enumerate((10, 20, 30, 40)):   # LQ right on 10-40 more images (0.5-2 points)
        wrong = np.flatnonzero(~base[k])[:extra]
        lq_right[k, wrong] = True
    r = roundtrip(lq.across_seeds(lq_right, sce_right, n_bootstrap=2000))
    diffs = np.array([0.5, 1.0, 1.5, 2.0])
    assert r["seeds"] == 4 and r["lq_ahead"] == 4 and np.isclose(r["mean"], diffs.mean())
    from scipy.stats import t
    half = t.ppf(0.975, 3) * diffs.std(ddof=1) / 2
    assert np.allclose(r["seed_interval"], [1.25 - half, 1.25 + half], atol=1e-4)
    assert 0 < r["image_interval"][0] < 1.25 < r["image_interval"][1]
    # a difference of one sign on some seeds and the other on the rest: the t interval spans 0
    flipped = lq.across_seeds(np.concatenate([lq_right[:2], sce_right[2:]]),
                              np.concatenate([sce_right[:2], lq_right[2:]]), n_bootstrap=500)
    assert flipped["lq_ahead"] == 2 and flipped["seed_interval"][0] < 0 < flipped["seed_interval"][1]


def test_lq_vs_sce_seeds_and_the_sweep(tiny_zoo, monkeypatch, small_mnist):
    lq, _ = tiny_zoo
    trained = []

    def tiny_sweep_model(lr, seed=0, steps=None):
        trained.append(lr)
        model = sl.MLP((784, 24, 16, 10), head="sce", seed=seed)
        sl.train(model, small_mnist.x_train[:-500], small_mnist.y_train[:-500], steps=100,
                 batch_size=50, optimizer=sl.Adam(lr=lr * 10, eps=1e-3), seed=seed, progress=False)
        model.metadata = {"train_seconds": 0.1}
        return model, True

    monkeypatch.setattr(lq, "sweep_model", tiny_sweep_model)
    monkeypatch.setattr(lq, "VALIDATION", 500)
    r = roundtrip(lq.lq_vs_sce_seeds(seeds=(0, 1, 2)))
    sweep = r["sweep"]
    assert trained == list(lq.SWEEP_LRS) and [row["lr"] for row in sweep["runs"]] == trained
    best = max(sweep["runs"], key=lambda row: row["validation_accuracy"])
    assert sweep["chosen_lr"] == best["lr"] == r["tuned"]["lr"]
    for part in (r["blog_recipe"], r["tuned"]):
        rows = part["per_seed"]
        assert [row["seed"] for row in rows] == [0, 1, 2]
        for row in rows:   # the stored per-image bits give the stored counts back
            lq_right = lq.unpack_bits(row["lq_correct"], row["n_images"])
            sce_right = lq.unpack_bits(row["sce_correct"], row["n_images"])
            assert int(np.sum(lq_right & ~sce_right)) == row["lq_only"]
            assert int(np.sum(~lq_right & sce_right)) == row["sce_only"]
            assert np.isclose(lq_right.mean(), row["lq_accuracy"])
        assert np.isclose(part["across_seeds"]["mean"], np.mean([row["difference"] for row in rows]))
