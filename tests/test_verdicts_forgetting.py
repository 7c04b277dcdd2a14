"""The rules of targets 11-15 and of the comparison of forgetting methods
(scripts/verdicts/forgetting.py): a case each accepts and one it rejects."""
import numpy as np
import pytest

from tests.scripts import import_script

fg = import_script("verdicts.forgetting")


def test_checks_11():
    strict, loose = fg.checks_11([{"t7000": 0.05, "drop": 1.0}, {"t7000": 0.20, "drop": 2.0},
                                  {"t7000": 0.05, "drop": 4.0}])
    assert strict == [True, False, False]      # 20% is not chance; 4 points is too costly
    assert loose == [True, True, False]


def test_seeds_11_reads_every_seed_of_forget_classes():
    ks = [0, 3500, 7000]
    def run(seed, t7, rest7, size="book"):
        target = [[0.98, 0.9, 0.5]] * 10
        rest = [[0.985, 0.985, 0.98]] * 10
        target[7], rest[7] = [0.98, 0.5, t7], [0.985, 0.985, rest7]
        return {"size": size, "seed": seed, "target": target, "rest": rest}
    classes = {"ks": ks, "runs": [run(1, 0.2, 0.98), run(0, 0.05, 0.98), run(0, 0.9, 0.9, "blog")]}
    seeds, features, verdict = fg.seeds_11(classes, 7000, 7)
    assert seeds == [0, 1] and [f["t7000"] for f in features] == [0.05, 0.2]
    assert abs(features[0]["drop"] - 0.5) < 1e-9
    assert verdict == "partly reproduced; depends on the seed"    # chance on seed 0 only
    classes["runs"].append(run(2, 0.6, 0.98))                      # a seed that barely forgets
    assert fg.seeds_11(classes, 7000, 7)[2] == "partly reproduced; depends on the seed"
    classes["runs"] = [run(s, 0.6, 0.98) for s in range(3)]
    assert fg.seeds_11(classes, 7000, 7)[2] == "not reproduced"


def test_checks_12():
    weak = {"base7": 0.98, "l2_20000": 0.7, "l3_20000": 0.3, "fan3": 0.02, "colb": 0.0,
            "both_7000": 0.1, "l2_7000": 0.9, "l3_7000": 0.6, "as_1": 0.2}
    strict, loose = fg.checks_12([weak, {**weak, "as_1": 0.6}, {**weak, "l2_20000": 0.9}])
    assert loose == [True, True, False]         # layer 2 alone lowering 8 points is too little
    assert strict == [False, True, False]       # the pixel route needs half the 7s read as 1


def test_checks_13():
    ok = {"controls": {"random": 0.97, "magnitude": 0.96, "maav": 0.8, "maav_target": 0.7},
          "t7000": 0.1, "base7": 0.98}
    strict, loose = fg.checks_13([ok, {**ok, "controls": {**ok["controls"], "maav_target": 0.3}},
                                  {**ok, "controls": {**ok["controls"], "random": 0.3}}])
    assert strict == [True, False, False]
    assert loose == [True, True, False]


def test_checks_14():
    ok = {"start": 0.95, "end": 0.2, "auc": 0.9}
    strict, loose = fg.checks_14([ok, {**ok, "end": 0.6}, {**ok, "auc": 0.8}])
    assert strict == loose == [True, False, False]


def test_where_seed_dependent():
    same = [{"dest": 9, "max_rise": 0.3}, {"dest": 9, "max_rise": 0.25}]
    assert not fg.where_seed_dependent({"book": same, "blog": same})
    assert fg.where_seed_dependent({"book": same, "blog": [{"dest": 9, "max_rise": 0.3},
                                                           {"dest": 8, "max_rise": 0.3}]})
    assert fg.where_seed_dependent({"book": [{"dest": 9, "max_rise": 0.3},
                                             {"dest": 9, "max_rise": 0.1}], "blog": same})


def test_features_14_and_11_read_a_run():
    ks = [0, 5000, 10_000]
    run = {"outputs": {"mean_output_of_7s": [[0.0] * 7 + [0.95, 0.0, 0.0], [0.0] * 10,
                                             [0.0] * 7 + [0.2, 0.0, 0.4]],
                       "confusion": [[0.0] * 7 + [1.0, 0.0, 0.0], [0.0] * 10,
                                     [0.1] * 7 + [0.1, 0.0, 0.2]],
                       "auc_low": 0.9},
           "both": {"target": [0.98, 0.5, 0.05], "rest": [0.98, 0.97, 0.96]}, "base_rest": 0.98}
    f = fg.features_14(run, 7)
    assert (f["start"], f["end"], f["dest"], f["max_rise"]) == (0.95, 0.2, 9, 0.4)
    f11 = fg.features_11(run, {"ks": ks}, 10_000)
    assert f11["t7000"] == 0.05 and abs(f11["drop"] - 2.0) < 1e-9


# ---- target 15: the class effect; comparing methods over whole curves ---------------------

def curve(points):
    """[(forget, retain), ...] -> the results file's curve dict."""
    return {"forget": [p[0] for p in points], "retain": [p[1] for p in points]}


A = curve([(0.98, 0.985), (0.40, 0.983), (0.08, 0.980), (0.02, 0.970)])
B = curve([(0.98, 0.985), (0.40, 0.982), (0.08, 0.975), (0.02, 0.960)])   # below A everywhere
C = curve([(0.98, 0.985), (0.40, 0.984), (0.08, 0.970)])                  # ahead at 40%, never 2%


def test_frontier_is_the_best_retain_at_or_below_each_level():
    got = fg.frontier(A["forget"], A["retain"], [0.01, 0.02, 0.1, 0.5])
    np.testing.assert_allclose(got, [np.nan, 0.970, 0.980, 0.983])


def test_beats_needs_every_seed_and_every_level():
    assert fg.beats([A, A], [B, B])
    assert not fg.beats([B, B], [A, A])
    # rejected: behind on one seed
    assert not fg.beats([A, B], [B, A])
    # rejected: C is ahead at 40-50%, A reaches 2-7% which C never does: neither beats
    assert not fg.beats([A], [C]) and not fg.beats([C], [A])
    a_ahead, c_ahead = fg.ahead(A, C)
    assert fg.spans(a_ahead) == "2-39%" and fg.spans(c_ahead) == "40-50%"
    # rejected: identical curves (never strictly above)
    assert not fg.beats([A], [A])
    with pytest.raises(ValueError, match="paired"):
        fg.beats([A, A], [B])


def test_class_effect_rejects_exchangeable_classes():
    rng = np.random.default_rng(0)
    noise = rng.random((5, 10))                                 # no class effect
    got = fg.class_effect(noise, permutations=4000)
    assert not got["differ"] and got["p"] > 0.05
    assert got["easiest"] is None and got["hardest"] is None


def test_class_effect_accepts_a_consistent_order_and_names_only_agreed_classes():
    rng = np.random.default_rng(1)
    effect = np.linspace(0, 1, 10)[None, :] + 0.05 * rng.random((5, 10))
    got = fg.class_effect(effect, permutations=4000)
    assert got["differ"] and got["p"] < 0.001 and got["kendall_w"] > 0.9
    assert got["easiest"] == 0 and got["hardest"] == 9
    # one seed disagrees on the hardest: the effect may hold, the name does not
    swapped = effect.copy()
    swapped[2, [8, 9]] = swapped[2, [9, 8]]
    got = fg.class_effect(swapped, permutations=4000)
    assert got["differ"] and got["hardest"] is None and got["easiest"] == 0


def test_class_effect_p_is_calibrated():
    # under the null, p < 0.05 about 5% of the time (here 100 tables of 3 seeds x 10 classes)
    rng = np.random.default_rng(2)
    ps = np.array([fg.class_effect(rng.random((3, 10)), permutations=500, seed=i)["p"]
                   for i in range(100)])
    assert 0.0 <= np.mean(ps < 0.05) <= 0.15 and 0.3 < np.median(ps) < 0.7


def test_class_effect_validates():
    with pytest.raises(ValueError, match="costs"):
        fg.class_effect(np.ones((1, 10)))
    with pytest.raises(ValueError, match="costs"):
        fg.class_effect(np.full((3, 10), np.nan))


def test_size_verdicts_15_reads_forget_classes():
    rng = np.random.default_rng(3)
    consistent = (np.linspace(0.2, 0.5, 10)[None, :] + 0.01 * rng.random((5, 10))).tolist()
    noise = rng.random((3, 10)).tolist()
    classes = {"runs": [{"size": "book", "seed": s, "cost": c} for s, c in enumerate(consistent)]
               + [{"size": "blog", "seed": s, "cost": c} for s, c in enumerate(noise)]}
    costs = fg.class_costs(classes)
    assert costs["book"][1] == [0, 1, 2, 3, 4] and costs["blog"][0].shape == (3, 10)
    got = fg.size_verdicts_15(classes)
    assert got == {"book": "held", "blog": "did not hold"}      # noise is rejected
    assert fg.verdicts.__doc__ and "15" in fg.size_verdicts.__doc__
