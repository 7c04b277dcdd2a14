"""The rules of targets 11-15 (scripts/verdicts/forgetting.py): a case each accepts and one it
rejects."""
from tests.scripts import import_script

fg = import_script("verdicts.forgetting")


def test_checks_11():
    strict, loose = fg.checks_11([{"t7000": 0.05, "drop": 1.0}, {"t7000": 0.20, "drop": 2.0},
                                  {"t7000": 0.05, "drop": 4.0}])
    assert strict == [True, False, False]      # 20% is not chance; 4 points is too costly
    assert loose == [True, True, False]


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


def test_features_and_checks_15():
    grid = list(range(0, 15_001, 1000))
    run = {"all_classes": {"k_below_10": [3000, 4000, None, 5000, 6000, 3000, 4000, 7000, 5000, 6000]}}
    f = fg.features_15(run, grid)
    assert f["v"][2] == 16_000 and f["reached"] == 9 and abs(f["ratio"] - 16 / 3) < 1e-12
    even = fg.features_15({"all_classes": {"k_below_10": [4000] * 9 + [7000]}}, grid)
    assert fg.checks_15([f, even]) == ([True, False], [True, False])   # 1.75 < 2


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
