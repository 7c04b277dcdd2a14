"""Perturbing inputs to fool a model, and measuring how well a score flags the fooled ones.

All attacks work on pixels in [0, 1] and bound the perturbation in the L-infinity norm: no pixel
moves by more than ``strength``, and the result is clipped back to [0, 1] (so a pixel may move
by less). Two families:

- :func:`noise`: random perturbations that ignore the model (the "noise-corrupted images" of
  the blog's lost posts). ``kind="uniform"`` adds U(-strength, strength) per pixel;
  ``kind="sign"`` adds +-strength with random signs, the same L-inf size as an FGSM step but in
  a random direction.
- :func:`fgsm`: the fast gradient sign method (Goodfellow, Shlens, Szegedy 2015),
  ``x + strength * sign(d objective / d x)`` at the true labels. One step, so it trusts the
  objective to be close to linear.
- :func:`pgd`: the same step repeated, each time projected back into the L-inf ball of radius
  ``strength`` around ``x`` (the basic iterative method of Kurakin et al. 2016, which is
  projected gradient descent of Madry et al. 2018 without the random start). It does not need
  the loss to be linear over the whole ball, so it checks whether FGSM's result is the model's
  robustness or the attack's weakness.

The objective a gradient attack climbs (``objective=``):

- ``"loss"``: the model's own training loss at the true labels (LQ: quadratic; SCE:
  cross-entropy), via :meth:`sparana_lite.MLP.input_gradient`. The usual FGSM, but not the same
  target for the two heads: the quadratic loss also rises when the wrong classes' outputs move
  away from 0 in either direction, which does not bring a wrong class closer to winning.
- ``"margin"``: ``max_{j != y} z_j - z_y`` on the pre-head values ``z`` (LQ outputs, SCE
  logits; Carlini and Wagner 2017). The sample is misclassified exactly when the margin is
  positive, and it is the same function of the network for both heads, so it compares like
  with like.
- ``"target"``: minus the model's own loss at a *target* class (default: :func:`runner_up`,
  the strongest wrong class on the clean input). Climbing it makes the model output what it
  outputs for a clean image of the target class (LQ: that one-hot vector), so the attacked
  input also *looks* clean: the attack an adversary who knows about output-based detection
  would choose.

Metrics: :func:`fooled` and :func:`success_rate` count the samples an attack turns from right
to wrong; :func:`evaluate` adds how well detection scores (:data:`SCORES`) flag the fooled
inputs, measured by :func:`roc_auc` (the Mann-Whitney U statistic, ties counted half).
"""
import numbers

import numpy as np

from . import _validate as V
from .heads import _unknown_head, log_softmax

__all__ = ["METHODS", "NOISE_KINDS", "OBJECTIVES", "SCORES", "attack", "detection_scores",
           "evaluate", "fgsm", "fooled", "margin_gradient", "noise", "pgd", "roc_auc",
           "runner_up", "success_rate"]

METHODS = ("fgsm", "pgd", "noise")
NOISE_KINDS = ("sign", "uniform")
OBJECTIVES = ("loss", "margin", "target")
SCORES = ("max_output", "max_logit", "prediction_loss")


def _strength(strength):
    return V.finite_float(strength, "strength", low=0)


def _pixels(x, name="x"):
    x = V.as_float32_matrix(x, name)
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{name} must hold pixel values in [0, 1]; got values in "
                         f"[{x.min()}, {x.max()}]")
    return x


def noise(x, strength, seed=0, kind="sign"):
    """Random noise of L-inf size ``strength``, clipped to [0, 1].

    Parameters
    ----------
    x : array (n, n_features), values in [0, 1]
    strength : float >= 0
        The largest change of any pixel.
    seed : int
        Seed of the noise; the same seed gives the same noise.
    kind : {"sign", "uniform"}
        "sign" (default): each pixel gets +strength or -strength with equal probability, the
        random counterpart of an FGSM step (same size, random direction); "uniform": each
        pixel gets U(-strength, strength), a weaker perturbation of the same L-inf size.

    Returns
    -------
    float32 array (n, n_features) in [0, 1]; ``x`` itself is not changed.
    """
    x = _pixels(x)
    strength = _strength(strength)
    seed = V.seed_int(seed)
    if kind not in NOISE_KINDS:
        raise ValueError(f"kind must be one of {NOISE_KINDS}; got {kind!r}")
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        delta = rng.uniform(-1.0, 1.0, size=x.shape)
    else:
        delta = rng.choice(np.array([-1.0, 1.0]), size=x.shape)
    return np.clip(x + np.float32(strength) * delta.astype(np.float32), 0.0, 1.0)


def margin_gradient(model, x, y):
    """d margin / d x for the margin ``max_{j != y} z_j - z_y`` of the pre-head values z.

    The runner-up class j is the one with the largest ``z_j`` at ``x`` (a subgradient where
    two classes tie). float32 (n, n_features).
    """
    V.mlp(model)
    x = V.as_float32_matrix(x, "x", n_features=model.widths[0])
    y = V.as_labels(y, "y", model.n_classes, n_samples=x.shape[0])
    acts = model.forward(x)
    z, rows = acts[-1], np.arange(x.shape[0])
    others = z.copy()
    others[rows, y] = -np.inf
    d = np.zeros_like(z)
    d[rows, np.argmax(others, axis=1)] = 1.0
    d[rows, y] -= 1.0
    return model.backprop_to_input(acts, d)


def runner_up(model, x, y):
    """The wrong class with the largest pre-head value for each sample, int64 (n,)."""
    V.mlp(model)
    x = V.as_float32_matrix(x, "x", n_features=model.widths[0])
    y = V.as_labels(y, "y", model.n_classes, n_samples=x.shape[0])
    z = model.logits(x)
    z[np.arange(x.shape[0]), y] = -np.inf
    return np.argmax(z, axis=1)


def _objective_setup(model, x, y, objective, target):
    """Check the objective; return the labels its gradient uses (y, or the target classes)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}; got {objective!r}")
    y = V.as_labels(y, "y", model.n_classes, n_samples=x.shape[0])
    if objective != "target":
        if target is not None:
            raise ValueError(f"target is only used with objective='target'; got objective={objective!r}")
        return y
    if target is None:
        return runner_up(model, x, y)
    target = V.as_labels(target, "target", model.n_classes, n_samples=x.shape[0])
    if np.any(target == y):
        raise ValueError("target must differ from y for every sample (a target attack aims at a "
                         "wrong class)")
    return target


def _ascent(model, x, labels, objective):
    """The gradient of the objective (to be climbed) at x."""
    if objective == "loss":
        return model.input_gradient(x, labels)
    if objective == "margin":
        return margin_gradient(model, x, labels)
    return -model.input_gradient(x, labels)


def fgsm(model, x, y, strength, objective="loss", target=None):
    """The fast gradient sign attack: ``clip(x + strength * sign(d objective / d x), 0, 1)``.

    ``objective="loss"`` (default) follows :meth:`sparana_lite.MLP.input_gradient`, the
    gradient of the model's own loss at the true labels ``y``; ``"margin"`` follows
    :func:`margin_gradient`; ``"target"`` descends the model's loss at ``target`` (labels, one
    per sample; default :func:`runner_up`). The step raises the objective to first order.
    Pixels whose gradient is exactly zero do not move.

    Returns
    -------
    float32 array (n, n_features) in [0, 1]; ``x`` itself is not changed.
    """
    V.mlp(model)
    x = _pixels(x)
    strength = _strength(strength)
    labels = _objective_setup(model, x, y, objective, target)
    if strength == 0.0:
        return x.copy()
    step = np.sign(_ascent(model, x, labels, objective)).astype(np.float32)
    return np.clip(x + np.float32(strength) * step, 0.0, 1.0)


def pgd(model, x, y, strength, steps=10, step_size=None, objective="loss", target=None):
    """Iterated gradient-sign steps, kept within ``strength`` of ``x`` (L-inf) and in [0, 1].

    ``x_{k+1} = clip(x_k + step_size * sign(d objective / d x at x_k), x - strength, x + strength)``,
    then clipped to [0, 1], for ``steps`` steps from ``x_0 = x`` (no random start, so the
    result is deterministic). ``step_size`` defaults to ``2.5 * strength / steps`` (Madry et
    al.), enough to reach the edge of the ball and move along it. ``objective`` and ``target``
    as in :func:`fgsm` (the default target is chosen once, on the clean input). Costs
    ``steps`` gradients.

    Returns
    -------
    float32 array (n, n_features) in [0, 1]; ``x`` itself is not changed.
    """
    V.mlp(model)
    x = _pixels(x)
    strength = _strength(strength)
    steps = V.positive_int(steps, "steps")
    step_size = (2.5 * strength / steps if step_size is None
                 else V.finite_float(step_size, "step_size", low=0))
    labels = _objective_setup(model, x, y, objective, target)
    if strength == 0.0 or step_size == 0.0:
        return x.copy()
    low = np.clip(x - np.float32(strength), 0.0, 1.0)
    high = np.clip(x + np.float32(strength), 0.0, 1.0)
    x_adv = x.copy()
    for _ in range(steps):
        step = np.sign(_ascent(model, x_adv, labels, objective)).astype(np.float32)
        x_adv = np.clip(x_adv + np.float32(step_size) * step, low, high)
    return x_adv


def attack(method, model, x, y, strength, seed=0, kind="sign", objective="loss"):
    """Dispatch by name: ``"fgsm"`` -> :func:`fgsm`, ``"pgd"`` -> :func:`pgd` (10 steps), both
    with ``objective`` (and the default target); ``"noise"`` -> :func:`noise` with ``seed``
    and ``kind``.

    ``model`` and ``y`` are unused by the noise attack (it ignores the model) but still required
    so that both attacks are called the same way.
    """
    V.mlp(model)
    if method == "fgsm":
        return fgsm(model, x, y, strength, objective=objective)
    if method == "pgd":
        return pgd(model, x, y, strength, objective=objective)
    if method == "noise":
        return noise(x, strength, seed=seed, kind=kind)
    raise ValueError(f"method must be one of {METHODS}; got {method!r}")


def fooled(model, x, x_adv, y):
    """Which samples the attack fooled, and which it had a chance to fool.

    Returns
    -------
    correct : bool array (n,)
        The model classifies the clean input ``x[i]`` correctly.
    fooled : bool array (n,)
        ``correct[i]`` and the model classifies the attacked input ``x_adv[i]`` wrongly.
    """
    V.mlp(model)
    x = V.as_float32_matrix(x, "x", n_features=model.widths[0])
    x_adv = V.as_float32_matrix(x_adv, "x_adv", n_features=model.widths[0])
    if x_adv.shape != x.shape:
        raise ValueError(f"x_adv must have the shape of x {x.shape}; got {x_adv.shape}")
    y = V.as_labels(y, "y", model.n_classes, n_samples=x.shape[0])
    correct = model.predict(x) == y
    return correct, correct & (model.predict(x_adv) != y)


def success_rate(model, x, x_adv, y):
    """The fraction of the samples classified correctly on ``x`` that are wrong on ``x_adv``.

    Samples the model already gets wrong are left out: an attack cannot be credited with
    them. Returns NaN when the model classifies no clean sample correctly.
    """
    correct, hit = fooled(model, x, x_adv, y)
    n = int(correct.sum())
    return float(hit.sum() / n) if n else float("nan")


def detection_scores(model, z):
    """Detection scores from pre-head values z (n, classes): {name: (n,)}, higher = more normal.

    - ``"max_output"``: the largest of :meth:`~sparana_lite.MLP.output` (LQ: a linear output;
      SCE: a softmax probability), the model's confidence.
    - ``"max_logit"``: the largest pre-head value (the same as max_output for LQ).
    - ``"prediction_loss"``: minus the model's own loss if its prediction were the label (LQ:
      ``-1/2 |z - onehot(argmax z)|^2``, the distance to the nearest clean-looking output, which
      flags outputs that are too low *or too high*; SCE: ``log max softmax``, which ranks
      exactly like max_output).
    """
    V.mlp(model)
    z = V.as_float32_matrix(z, "z", n_features=model.n_classes)
    rows, pred = np.arange(z.shape[0]), np.argmax(z, axis=1)
    if model.head == "lq":
        d = z.astype(np.float64)
        d[rows, pred] -= 1.0
        return {"max_output": z.max(axis=1), "max_logit": z.max(axis=1),
                "prediction_loss": -0.5 * np.sum(d * d, axis=1)}
    if model.head == "sce":
        logp = log_softmax(z)[rows, pred]
        return {"max_output": np.exp(logp), "max_logit": z.max(axis=1), "prediction_loss": logp}
    raise _unknown_head(model.head)


def evaluate(model, x, x_adv, y, min_fooled=20):
    """Attack success and how well each detection score flags the fooled inputs, in one pass.

    Parameters
    ----------
    model : sparana_lite.MLP
    x, x_adv : arrays (n, n_features)
        The clean inputs and the attacked ones.
    y : array (n,)
        The true labels.
    min_fooled : int
        Below this many fooled samples every AUC is NaN (too few to estimate).

    Returns
    -------
    dict
        ``success_rate`` (as :func:`success_rate`), ``n_correct``, ``n_fooled``, and ``auc``,
        a dict over :data:`SCORES` (see :func:`detection_scores`): :func:`roc_auc` with the
        clean correctly classified inputs' scores as positives and the fooled attacked inputs'
        scores as negatives, i.e. the probability that a clean input scores higher than a
        fooled one. 1: a threshold on the score separates them perfectly; 0.5: it cannot tell
        them apart; below 0.5: fooled inputs look *more* normal than clean ones.
    """
    V.mlp(model)
    min_fooled = V.positive_int(min_fooled, "min_fooled")
    x = V.as_float32_matrix(x, "x", n_features=model.widths[0])
    x_adv = V.as_float32_matrix(x_adv, "x_adv", n_features=model.widths[0])
    if x_adv.shape != x.shape:
        raise ValueError(f"x_adv must have the shape of x {x.shape}; got {x_adv.shape}")
    y = V.as_labels(y, "y", model.n_classes, n_samples=x.shape[0])
    clean, adv = model.logits(x), model.logits(x_adv)
    correct = np.argmax(clean, axis=1) == y
    hit = correct & (np.argmax(adv, axis=1) != y)
    n_correct, n_fooled = int(correct.sum()), int(hit.sum())
    if n_fooled >= min_fooled:
        s_clean, s_adv = detection_scores(model, clean[correct]), detection_scores(model, adv[hit])
        auc = {k: roc_auc(s_adv[k], s_clean[k]) for k in SCORES}
    else:
        auc = {k: float("nan") for k in SCORES}
    return {"success_rate": n_fooled / n_correct if n_correct else float("nan"),
            "n_correct": n_correct, "n_fooled": n_fooled, "auc": auc}


def _scores(s, name):
    if isinstance(s, numbers.Number):
        raise ValueError(f"{name} must be a 1-D array of scores; got the scalar {s!r}")
    a = np.asarray(s)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of scores; got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name} must hold at least one score; got an empty array")
    if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
        raise TypeError(f"{name} must hold real numbers; got dtype {a.dtype}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def roc_auc(scores_negative, scores_positive):
    """Area under the ROC curve of a score that should be higher on the positives.

    Equals the probability that a random positive scores higher than a random negative, with
    ties counted half: ``(#{p > n} + 0.5 #{p == n}) / (n_pos n_neg)`` over all pairs. Computed
    from mid-ranks (the Mann-Whitney U statistic) in O(N log N). 1 is perfect separation, 0.5
    is chance, 0 is perfect separation the wrong way round.

    Parameters
    ----------
    scores_negative, scores_positive : 1-D arrays of finite real numbers, non-empty
    """
    neg = _scores(scores_negative, "scores_negative")
    pos = _scores(scores_positive, "scores_positive")
    both = np.concatenate([neg, pos])
    _, inverse, counts = np.unique(both, return_inverse=True, return_counts=True)
    first_rank = np.cumsum(counts) - counts + 1          # 1-based rank of each distinct value
    mid_rank = first_rank + (counts - 1) / 2.0           # ties share their mean rank
    rank_sum = mid_rank[inverse[neg.size:]].sum()
    u = rank_sum - pos.size * (pos.size + 1) / 2.0
    return float(u / (pos.size * neg.size))
