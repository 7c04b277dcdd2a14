import numpy as np
import pytest

import sparana_lite as sl
from sparana_lite import attacks

RNG = np.random.default_rng(3)
X = RNG.random((40, 12), dtype=np.float32)
X[:5] = 0.0    # pixels on the edges of [0, 1], where clipping matters
X[5:10] = 1.0
Y = RNG.integers(0, 5, 40)


def small(head="lq", seed=0):
    return sl.MLP([12, 9, 7, 5], head=head, seed=seed)


# ----------------------------------------------------------------------------- noise
@pytest.mark.parametrize("kind", attacks.NOISE_KINDS)
def test_noise_is_bounded_clipped_seeded(kind):
    for s in (0.05, 0.3, 2.0):
        xa = attacks.noise(X, s, seed=1, kind=kind)
        assert xa.dtype == np.float32 and xa.shape == X.shape
        assert xa.min() >= 0 and xa.max() <= 1
        assert np.abs(xa - X).max() <= s + 1e-6
        np.testing.assert_array_equal(xa, attacks.noise(X, s, seed=1, kind=kind))
        assert not np.array_equal(xa, attacks.noise(X, s, seed=2, kind=kind))


def test_sign_noise_moves_every_interior_pixel_by_the_strength():
    x = np.full((3, 12), 0.5, dtype=np.float32)
    np.testing.assert_allclose(np.abs(attacks.noise(x, 0.1, kind="sign") - x), 0.1, atol=1e-6)


@pytest.mark.parametrize("kind", attacks.NOISE_KINDS)
def test_strength_zero_changes_nothing(kind):
    np.testing.assert_array_equal(attacks.noise(X, 0.0, kind=kind), X)
    for head in ("lq", "sce"):
        np.testing.assert_array_equal(attacks.fgsm(small(head), X, Y, 0), X)


def test_inputs_are_not_modified():
    x = X.copy()
    attacks.noise(x, 0.2)
    attacks.fgsm(small(), x, Y, 0.2)
    np.testing.assert_array_equal(x, X)


# ------------------------------------------------------------------------------ fgsm
@pytest.mark.parametrize("head", ["lq", "sce"])
def test_fgsm_raises_the_loss_and_stays_in_range(head):
    model = small(head)
    x = np.full((40, 12), 0.5, dtype=np.float32) + 0.3 * (X - 0.5)   # interior: no clipping
    base = model.loss(x, Y)
    for s in (0.01, 0.05):
        xa = attacks.fgsm(model, x, Y, s)
        assert xa.min() >= 0 and xa.max() <= 1
        assert np.abs(xa - x).max() <= s + 1e-6
        assert model.loss(xa, Y) > base
    # the step is exactly strength * sign(gradient) where nothing clips
    g = model.input_gradient(x, Y)
    np.testing.assert_allclose(attacks.fgsm(model, x, Y, 0.01) - x, 0.01 * np.sign(g), atol=1e-6)


@pytest.mark.parametrize("head", ["lq", "sce"])
def test_fgsm_beats_sign_noise_of_the_same_size(head):
    model = small(head)
    s = 0.05
    gain_fgsm = model.loss(attacks.fgsm(model, X, Y, s), Y) - model.loss(X, Y)
    gain_noise = model.loss(attacks.noise(X, s, kind="sign"), Y) - model.loss(X, Y)
    assert gain_fgsm > gain_noise


def test_fgsm_clips_at_the_edges():
    xa = attacks.fgsm(small(), X, Y, 0.5)
    assert xa.min() >= 0 and xa.max() <= 1
    assert np.all(np.isin(xa[:10], [0.0, 0.5, 1.0]))


def test_attack_dispatch():
    model = small()
    np.testing.assert_array_equal(attacks.attack("fgsm", model, X, Y, 0.1), attacks.fgsm(model, X, Y, 0.1))
    np.testing.assert_array_equal(attacks.attack("noise", model, X, Y, 0.1, seed=4, kind="uniform"),
                                  attacks.noise(X, 0.1, seed=4, kind="uniform"))
    with pytest.raises(ValueError, match="method"):
        attacks.attack("cw", model, X, Y, 0.1)


# ---------------------------------------------------------------------------- metrics
def test_fooled_and_success_rate_count_only_originally_correct_samples():
    model = small()
    pred = model.predict(X)
    y = pred.copy()
    y[:10] = (pred[:10] + 1) % 5                 # 10 samples already wrong
    x_adv = X.copy()
    x_adv[10:20] = attacks.fgsm(model, X[10:20], y[10:20], 1.0)   # big steps on 10 of them
    correct, hit = attacks.fooled(model, X, x_adv, y)
    assert correct.sum() == 30 and not correct[:10].any()
    assert not hit[:10].any() and not hit[20:].any()
    assert attacks.success_rate(model, X, x_adv, y) == pytest.approx(hit.sum() / 30)
    assert attacks.success_rate(model, X, X, y) == 0.0


def test_success_rate_nan_when_nothing_is_correct():
    model = small()
    y = (model.predict(X) + 1) % 5
    assert np.isnan(attacks.success_rate(model, X, X, y))


def brute_auc(neg, pos):
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_matches_the_pairwise_count_with_ties(seed):
    rng = np.random.default_rng(seed)
    neg = rng.integers(0, 6, rng.integers(1, 30)).astype(float)      # many ties
    pos = rng.integers(2, 8, rng.integers(1, 30)).astype(float)
    assert attacks.roc_auc(neg, pos) == pytest.approx(brute_auc(neg, pos), abs=1e-12)
    neg, pos = rng.normal(size=17), rng.normal(0.5, size=23)          # no ties
    assert attacks.roc_auc(neg, pos) == pytest.approx(brute_auc(neg, pos), abs=1e-12)


def test_roc_auc_edges():
    assert attacks.roc_auc([0, 1], [2, 3]) == 1.0
    assert attacks.roc_auc([2, 3], [0, 1]) == 0.0
    assert attacks.roc_auc([1, 1, 1], [1, 1]) == 0.5
    assert attacks.roc_auc([0.5], [0.5]) == 0.5
    assert attacks.roc_auc(np.float32([0.1, 0.2]), [3]) == 1.0


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("strength", [-0.1, float("nan"), float("inf"), "0.1", None, True])
def test_bad_strength(strength):
    with pytest.raises(ValueError, match="strength"):
        attacks.noise(X, strength)
    with pytest.raises(ValueError, match="strength"):
        attacks.fgsm(small(), X, Y, strength)


def test_bad_inputs():
    model = small()
    with pytest.raises(ValueError, match="x must be a 2-D"):
        attacks.noise(X[0], 0.1)
    with pytest.raises(ValueError, match=r"x must hold pixel values in \[0, 1\]"):
        attacks.noise(X * 2, 0.1)
    with pytest.raises(ValueError, match="x contains NaN"):
        attacks.fgsm(model, np.full((2, 12), np.nan), Y[:2], 0.1)
    with pytest.raises(ValueError, match="x must have 12 features"):
        attacks.fgsm(model, X[:, :5], Y, 0.1)
    with pytest.raises(ValueError, match="y has 3 labels"):
        attacks.fgsm(model, X, Y[:3], 0.1)
    with pytest.raises(ValueError, match="y has 3 labels"):
        attacks.fgsm(model, X, Y[:3], 0.0)
    with pytest.raises(ValueError, match="kind"):
        attacks.noise(X, 0.1, kind="gaussian")
    with pytest.raises(ValueError, match="seed"):
        attacks.noise(X, 0.1, seed=-1)
    with pytest.raises(ValueError, match="x_adv must have the shape"):
        attacks.success_rate(model, X, X[:3], Y)


@pytest.mark.parametrize("bad, match, error", [
    ([], "at least one score", ValueError),
    ([[1.0]], "1-D", ValueError),
    (0.5, "1-D", ValueError),
    ([1.0, np.nan], "NaN", ValueError),
    (["a"], "real numbers", TypeError),
])
def test_roc_auc_bad_scores(bad, match, error):
    with pytest.raises(error, match="scores_negative.*" + match):
        attacks.roc_auc(bad, [1.0])
    with pytest.raises(error, match="scores_positive.*" + match):
        attacks.roc_auc([1.0], bad)


# ------------------------------------------------------------------------------- pgd
@pytest.mark.parametrize("head", ["lq", "sce"])
def test_pgd_stays_in_the_ball_and_beats_fgsm(head):
    model = small(head)
    for s in (0.05, 0.3):
        xa = attacks.pgd(model, X, Y, s, steps=8)
        assert xa.dtype == np.float32 and xa.min() >= 0 and xa.max() <= 1
        assert np.abs(xa - X).max() <= s + 1e-6
        assert model.loss(xa, Y) >= model.loss(attacks.fgsm(model, X, Y, s), Y) * 0.999
    np.testing.assert_array_equal(attacks.pgd(model, X, Y, 0.0), X)
    np.testing.assert_array_equal(attacks.pgd(model, X, Y, 0.1, step_size=0.0), X)


def test_pgd_one_full_step_is_fgsm():
    model = small()
    np.testing.assert_array_equal(attacks.pgd(model, X, Y, 0.1, steps=1, step_size=0.1),
                                  attacks.fgsm(model, X, Y, 0.1))
    np.testing.assert_array_equal(attacks.attack("pgd", model, X, Y, 0.1), attacks.pgd(model, X, Y, 0.1))


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 0}, "steps"), ({"steps": 2.5}, "steps"),
    ({"step_size": -0.1}, "step_size"), ({"step_size": float("nan")}, "step_size"),
])
def test_pgd_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        attacks.pgd(small(), X, Y, 0.1, **kwargs)


# ------------------------------------------------------------------- margin objective
def margin64(model, x, y):
    """max_{j != y} z_j - z_y in float64, from the model's weights."""
    a = x.astype(np.float64)
    for i, (W, b) in enumerate(zip(model.weights, model.biases)):
        a = a @ W.astype(np.float64) + b
        if i < len(model.weights) - 1:
            a = np.maximum(a, 0)
    rows = np.arange(len(y))
    others = a.copy()
    others[rows, y] = -np.inf
    return others.max(axis=1) - a[rows, y]


@pytest.mark.parametrize("head", ["lq", "sce"])
def test_margin_gradient_matches_finite_differences(head):
    model = small(head)
    x, y = X[10:14].astype(np.float64), Y[10:14]
    g = attacks.margin_gradient(model, x, y)
    h = 1e-5
    for k in range(12):
        e = np.zeros_like(x)
        e[:, k] = h
        fd = (margin64(model, x + e, y) - margin64(model, x - e, y)) / (2 * h)
        np.testing.assert_allclose(g[:, k], fd, rtol=1e-3, atol=1e-4)


def test_margin_gradient_of_a_linear_model():
    model = sl.MLP([12, 5], head="sce", seed=2)
    z = model.logits(X)
    rows = np.arange(len(Y))
    z[rows, Y] = -np.inf
    j = z.argmax(axis=1)
    W = model.weights[0]
    np.testing.assert_allclose(attacks.margin_gradient(model, X, Y), (W[:, j] - W[:, Y]).T, atol=1e-6)


@pytest.mark.parametrize("head", ["lq", "sce"])
def test_margin_attacks_raise_the_margin(head):
    model = small(head)
    x = np.full((40, 12), 0.5, dtype=np.float32) + 0.3 * (X - 0.5)
    base = margin64(model, x, Y)
    xf = attacks.fgsm(model, x, Y, 0.02, objective="margin")
    xp = attacks.pgd(model, x, Y, 0.02, objective="margin")
    assert np.mean(margin64(model, xf, Y) > base) > 0.9
    assert np.mean(margin64(model, xp, Y) >= margin64(model, xf, Y) - 1e-6) > 0.9
    np.testing.assert_array_equal(attacks.attack("fgsm", model, x, Y, 0.02, objective="margin"), xf)


def test_bad_objective():
    for f in (attacks.fgsm, attacks.pgd):
        with pytest.raises(ValueError, match="objective must be one of"):
            f(small(), X, Y, 0.1, objective="hinge")


# ------------------------------------------------------------------- target objective
@pytest.mark.parametrize("head", ["lq", "sce"])
def test_target_attacks_lower_the_loss_at_the_target(head):
    model = small(head)
    x = np.full((40, 12), 0.5, dtype=np.float32) + 0.3 * (X - 0.5)
    t = attacks.runner_up(model, x, Y)
    assert np.all(t != Y)
    z = model.logits(x)
    z[np.arange(40), Y] = -np.inf
    np.testing.assert_array_equal(t, z.argmax(axis=1))
    xf = attacks.fgsm(model, x, Y, 0.02, objective="target")
    assert model.loss(xf, t) < model.loss(x, t)
    np.testing.assert_array_equal(xf, attacks.fgsm(model, x, Y, 0.02, objective="target", target=t))
    np.testing.assert_allclose(xf - x, -0.02 * np.sign(model.input_gradient(x, t)), atol=1e-6)
    xp = attacks.pgd(model, x, Y, 0.02, objective="target")
    assert model.loss(xp, t) <= model.loss(xf, t) * 1.001
    other = (Y + 2) % 5
    xo = attacks.pgd(model, x, Y, 0.02, objective="target", target=other)
    assert model.loss(xo, other) < model.loss(x, other)


def test_target_argument_checks():
    model = small()
    with pytest.raises(ValueError, match="target is only used"):
        attacks.fgsm(model, X, Y, 0.1, objective="loss", target=Y)
    with pytest.raises(ValueError, match="target must differ from y"):
        attacks.pgd(model, X, Y, 0.1, objective="target", target=Y)
    with pytest.raises(ValueError, match="target has 3 labels"):
        attacks.fgsm(model, X, Y, 0.1, objective="target", target=Y[:3])
    with pytest.raises(ValueError, match=r"target must hold labels in \[0, 4\]"):
        attacks.fgsm(model, X, Y, 0.1, objective="target", target=Y + 10)


# ---------------------------------------------------------------------------- evaluate
@pytest.mark.parametrize("call", [
    lambda m: attacks.fgsm(m, X, Y, 0.1),
    lambda m: attacks.pgd(m, X, Y, 0.1, steps=2),
    lambda m: attacks.attack("noise", m, X, Y, 0.1),
    lambda m: attacks.margin_gradient(m, X, Y),
    lambda m: attacks.runner_up(m, X, Y),
    lambda m: attacks.fooled(m, X, X, Y),
    lambda m: attacks.success_rate(m, X, X, Y),
    lambda m: attacks.evaluate(m, X, X, Y),
    lambda m: attacks.detection_scores(m, np.zeros((3, 5), np.float32)),
], ids=["fgsm", "pgd", "attack", "margin_gradient", "runner_up", "fooled", "success_rate",
        "evaluate", "detection_scores"])
def test_every_function_taking_a_model_checks_it(call):
    """Fails if a function that takes a model lets a non-MLP through (to an AttributeError deep
    inside, or, for the noise attack and detection_scores, to no error at all)."""
    with pytest.raises(TypeError, match="model must be a sparana_lite.MLP; got str"):
        call("model")


def test_detection_scores_checks_its_values():
    """Fails if detection_scores scores values that are not (n, n_classes) finite numbers
    (a wrong width used to be scored as if it had the model's classes)."""
    model = small()  # 5 classes
    with pytest.raises(ValueError, match="z must have 5 features"):
        attacks.detection_scores(model, np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="z must be a 2-D array"):
        attacks.detection_scores(model, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match="z contains NaN"):
        attacks.detection_scores(model, np.full((2, 5), np.nan))
    with pytest.raises(TypeError, match="z must hold real numbers"):
        attacks.detection_scores(model, np.full((2, 5), "a"))


def test_detection_scores():
    z = np.array([[0.1, 0.9, -0.2], [1.5, 0.0, 0.0]], dtype=np.float32)
    lq = sl.MLP([4, 3], head="lq")
    s = attacks.detection_scores(lq, z)
    np.testing.assert_allclose(s["max_output"], [0.9, 1.5])
    np.testing.assert_allclose(s["max_logit"], [0.9, 1.5])
    np.testing.assert_allclose(s["prediction_loss"], [-0.5 * (0.01 + 0.01 + 0.04), -0.5 * 0.25], rtol=1e-6)
    sce = sl.MLP([4, 3], head="sce")
    s = attacks.detection_scores(sce, z)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(s["max_output"], p.max(axis=1), rtol=1e-6)
    np.testing.assert_allclose(s["prediction_loss"], np.log(p.max(axis=1)), rtol=1e-5)
    np.testing.assert_allclose(s["max_logit"], [0.9, 1.5])


@pytest.mark.parametrize("head", ["lq", "sce"])
def test_evaluate_agrees_with_the_parts(head):
    model = small(head)
    y = model.predict(X)
    y[:8] = (y[:8] + 1) % 5
    x_adv = attacks.fgsm(model, X, y, 0.5)
    r = attacks.evaluate(model, X, x_adv, y, min_fooled=1)
    correct, hit = attacks.fooled(model, X, x_adv, y)
    assert r["n_correct"] == correct.sum() and r["n_fooled"] == hit.sum() > 0
    assert r["success_rate"] == pytest.approx(attacks.success_rate(model, X, x_adv, y))
    assert set(r["auc"]) == set(attacks.SCORES)
    assert r["auc"]["max_output"] == pytest.approx(
        attacks.roc_auc(model.output(x_adv[hit]).max(1), model.output(X[correct]).max(1)))
    assert r["auc"]["max_logit"] == pytest.approx(
        attacks.roc_auc(model.logits(x_adv[hit]).max(1), model.logits(X[correct]).max(1)))
    clean = attacks.detection_scores(model, model.logits(X[correct]))["prediction_loss"]
    adv = attacks.detection_scores(model, model.logits(x_adv[hit]))["prediction_loss"]
    assert r["auc"]["prediction_loss"] == pytest.approx(attacks.roc_auc(adv, clean))
    if head == "sce":   # log max softmax ranks like max softmax
        assert r["auc"]["prediction_loss"] == pytest.approx(r["auc"]["max_output"])
    r = attacks.evaluate(model, X, x_adv, y, min_fooled=int(hit.sum()) + 1)
    assert all(np.isnan(v) for v in r["auc"].values())
    with pytest.raises(ValueError, match="min_fooled"):
        attacks.evaluate(model, X, x_adv, y, min_fooled=0)
    with pytest.raises(ValueError, match="x_adv must have the shape"):
        attacks.evaluate(model, X, x_adv[:3], y)
