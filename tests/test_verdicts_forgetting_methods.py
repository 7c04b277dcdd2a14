"""scripts/verdicts/forgetting_methods.py: the comparison of methods over whole curves and the
class-effect test, each with the cases it rejects."""
import numpy as np
import pytest

from .scripts import import_script


@pytest.fixture(scope="module")
def v():
    return import_script("verdicts.forgetting_methods")


def curve(points):
    """[(forget, retain), ...] -> the results file's curve dict."""
    return {"forget": [p[0] for p in points], "retain": [p[1] for p in points]}


A = curve([(0.98, 0.985), (0.40, 0.983), (0.08, 0.980), (0.02, 0.970)])
B = curve([(0.98, 0.985), (0.40, 0.982), (0.08, 0.975), (0.02, 0.960)])   # below A everywhere
C = curve([(0.98, 0.985), (0.40, 0.984), (0.08, 0.970)])                  # ahead at 40%, never 2%


def test_frontier_is_the_best_retain_at_or_below_each_level(v):
    got = v.frontier(A["forget"], A["retain"], [0.01, 0.02, 0.1, 0.5])
    np.testing.assert_allclose(got, [np.nan, 0.970, 0.980, 0.983])


def test_beats_needs_every_seed_and_every_level(v):
    assert v.beats([A, A], [B, B])
    assert not v.beats([B, B], [A, A])
    # rejected: behind on one seed
    assert not v.beats([A, B], [B, A])
    # rejected: C is ahead at 40-50%, A reaches 2-7% which C never does: neither beats
    assert not v.beats([A], [C]) and not v.beats([C], [A])
    a_ahead, c_ahead = v.ahead(A, C)
    assert v.spans(a_ahead) == "2-39%" and v.spans(c_ahead) == "40-50%"
    # rejected: identical curves (never strictly above)
    assert not v.beats([A], [A])
    with pytest.raises(ValueError, match="paired"):
        v.beats([A, A], [B])


def test_class_effect_rejects_exchangeable_classes(v):
    rng = np.random.default_rng(0)
    noise = rng.random((5, 10))                                 # no class effect
    got = v.class_effect(noise, permutations=4000)
    assert not got["differ"] and got["p"] > 0.05
    assert got["easiest"] is None and got["hardest"] is None


def test_class_effect_accepts_a_consistent_order_and_names_only_agreed_classes(v):
    rng = np.random.default_rng(1)
    effect = np.linspace(0, 1, 10)[None, :] + 0.05 * rng.random((5, 10))
    got = v.class_effect(effect, permutations=4000)
    assert got["differ"] and got["p"] < 0.001 and got["kendall_w"] > 0.9
    assert got["easiest"] == 0 and got["hardest"] == 9
    # one seed disagrees on the hardest: the effect may hold, the name does not
    swapped = effect.copy()
    swapped[2, [8, 9]] = swapped[2, [9, 8]]
    got = v.class_effect(swapped, permutations=4000)
    assert got["differ"] and got["hardest"] is None and got["easiest"] == 0


def test_class_effect_p_is_calibrated(v):
    # under the null, p < 0.05 about 5% of the time (here 100 tables of 3 seeds x 10 classes)
    rng = np.random.default_rng(2)
    ps = np.array([v.class_effect(rng.random((3, 10)), permutations=500, seed=i)["p"]
                   for i in range(100)])
    assert 0.0 <= np.mean(ps < 0.05) <= 0.15 and 0.3 < np.median(ps) < 0.7


def test_class_effect_validates(v):
    with pytest.raises(ValueError, match="costs"):
        v.class_effect(np.ones((1, 10)))
    with pytest.raises(ValueError, match="costs"):
        v.class_effect(np.full((3, 10), np.nan))


def test_target_15_labels(v):
    yes, no = {"differ": True}, {"differ": False}
    assert v.target_15(yes, yes) == "held"
    assert v.target_15(no, no) == "did not hold"
    assert v.target_15(no, yes) == v.target_15(yes, no) == "differs between the sizes"
    labels = import_script("verdicts").LABELS
    assert all(v.target_15(a, b) in labels for a in (yes, no) for b in (yes, no))
