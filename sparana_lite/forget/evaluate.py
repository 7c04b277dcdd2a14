"""Has the class been forgotten? Relearning, linear probes and membership inference.

Accuracy alone can hide a class that is still there: :func:`relearn` counts the fine-tuning
steps until it comes back while the other classes stay, :func:`linear_probe` asks whether it is
still decodable inside, and :func:`membership_advantage` and :func:`membership_rate` whether an
attacker can tell the training images from unseen ones. :func:`relearn_steps` is the older
relearning count, deprecated: it fine-tunes on the target alone and never looks at the other
classes.
"""
from dataclasses import dataclass
import warnings

import numpy as np

from .. import _validate as V
from ..convert import with_weights
from ..train import Adam, make_step, train
from ._activations import _hidden

__all__ = ["Relearning", "relearn", "relearn_steps", "linear_probe", "membership_advantage",
           "membership_rate"]


@dataclass
class Relearning:
    """How fast a forgotten class comes back under fine-tuning that keeps the other classes.

    Attributes
    ----------
    steps : int or None
        Fine-tuning steps until the forget accuracy first exceeded ``threshold`` at a check
        where the retain accuracy was at least ``retain_start - margin``; 0 if the model
        already met both; None if not within ``max_steps``.
    checked : int64 array (m,)
        The steps at which the accuracies were measured (0 first).
    forget, retain : float64 arrays (m,)
        Accuracy on the forget and on the retain evaluation images at each check.
    threshold, margin : float
    forget_share : float
        Share of each batch drawn from the forget images (the rest from the retain images).
    """

    steps: object
    checked: np.ndarray
    forget: np.ndarray
    retain: np.ndarray
    threshold: float
    margin: float
    forget_share: float

    @property
    def retain_start(self):
        """Retain accuracy before any fine-tuning."""
        return float(self.retain[0])

    @property
    def retain_at(self):
        """Retain accuracy at the check that counted (the last check if never relearned)."""
        i = -1 if self.steps is None else int(np.flatnonzero(self.checked == self.steps)[0])
        return float(self.retain[i])

    @property
    def retain_min(self):
        """The lowest retain accuracy seen up to that check."""
        i = len(self.checked) if self.steps is None else \
            int(np.flatnonzero(self.checked == self.steps)[0]) + 1
        return float(self.retain[:i].min())


def relearn(model, x_forget, y_forget, x_retain, y_retain, eval_forget, eval_retain,
            threshold=0.9, margin=0.01, forget_share=0.5, batch_size=32, lr=1e-4,
            max_steps=300, check_every=1, seed=0):
    """Relearning that measures relearning: fine-tune on a stated mix of forget-class and retain
    images and count the steps until the forget class is back while the others stay.

    Each step is one Adam(lr, eps=1e-3) step (the book's optimizer) on a batch of
    ``batch_size`` images: ``round(forget_share * batch_size)`` drawn from (x_forget,
    y_forget), the rest from (x_retain, y_retain), both at random without replacement
    within the batch (seeded). Every weight trains, pruned ones too (masks are dropped).
    After every ``check_every`` steps the accuracy is measured on ``eval_forget`` and
    ``eval_retain``; the class counts as relearned at the first check where

        forget accuracy > threshold   and   retain accuracy >= retain accuracy at step 0 - margin.

    So a model that fine-tuning turns into one that calls everything the forgotten class does
    not count as relearned: its retain accuracy falls. The model is left unchanged.

    Parameters
    ----------
    model : MLP
    x_forget, y_forget : (n_f, features), (n_f,)
        Training images of the forgotten class (n_f >= 1).
    x_retain, y_retain : (n_r, features), (n_r,)
        Training images of the other classes (n_r >= 1 unless ``forget_share`` is 1).
    eval_forget, eval_retain : pairs (x, y)
        Evaluation images (e.g. test images) of the forgotten class and of the others.
    threshold : float in [0, 1]
    margin : float in [0, 1]
        How far (accuracy, not points) the retain accuracy may fall below its start.
    forget_share : float in (0, 1]
    batch_size, max_steps, check_every : int >= 1
    lr : float > 0
    seed : int >= 0

    Returns
    -------
    Relearning
    """
    V.mlp(model)
    x_forget, y_forget = model._checked_xy(x_forget, y_forget)
    if x_forget.shape[0] == 0:
        raise ValueError("x_forget must hold at least one image of the class to relearn; got 0")
    threshold = V.finite_float(threshold, "threshold", low=0, high=1)
    margin = V.finite_float(margin, "margin", low=0, high=1)
    forget_share = V.finite_float(forget_share, "forget_share", low=0, high=1, low_open=True)
    batch_size = V.positive_int(batch_size, "batch_size")
    max_steps = V.positive_int(max_steps, "max_steps")
    check_every = V.positive_int(check_every, "check_every")
    lr = V.finite_float(lr, "lr", low=0, low_open=True)
    n_f = int(round(forget_share * batch_size))
    if n_f < 1:
        raise ValueError(f"forget_share * batch_size must round to at least 1 forget image per "
                         f"batch; got {forget_share} * {batch_size}")
    n_r = batch_size - n_f
    if n_r:
        x_retain, y_retain = model._checked_xy(x_retain, y_retain)
        if x_retain.shape[0] == 0:
            raise ValueError("x_retain must hold at least one image when forget_share < 1; got 0")
    evals = []
    for pair, name in [(eval_forget, "eval_forget"), (eval_retain, "eval_retain")]:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"{name} must be a pair (x, y)")
        ex, ey = model._checked_xy(*pair)
        if ex.shape[0] == 0:
            raise ValueError(f"{name} must hold at least one image; got 0")
        evals.append((ex, ey))
    rng = np.random.default_rng(V.seed_int(seed))
    m = with_weights(model, model.weights)     # dense, unmasked copy
    step = make_step(m, Adam(lr=lr, eps=1e-3), batch_size)

    def measure():
        return [m.accuracy(ex, ey) for ex, ey in evals]

    f0, r0 = measure()
    checked, forget, retain = [0], [f0], [r0]

    def done(f, r):
        return f > threshold and r >= r0 - margin

    steps = 0 if done(f0, r0) else None
    n = 0
    while steps is None and n < max_steps:
        for _ in range(min(check_every, max_steps - n)):
            pick_f = rng.choice(len(x_forget), n_f, replace=len(x_forget) < n_f)
            if n_r:
                pick_r = rng.choice(len(x_retain), n_r, replace=len(x_retain) < n_r)
                xb = np.concatenate([x_forget[pick_f], x_retain[pick_r]])
                yb = np.concatenate([y_forget[pick_f], y_retain[pick_r]])
            else:
                xb, yb = x_forget[pick_f], y_forget[pick_f]
            loss = step(xb, yb)
            if not np.isfinite(float(loss)):
                raise FloatingPointError(f"the fine-tuning loss became {loss} at step {n + 1}; "
                                         f"lower the learning rate (lr={lr})")
            n += 1
        f, r = measure()
        checked.append(n)
        forget.append(f)
        retain.append(r)
        if done(f, r):
            steps = n
    return Relearning(steps, np.array(checked, np.int64), np.array(forget), np.array(retain),
                      threshold, margin, forget_share)


def relearn_steps(model, x_target, y_target, x_eval, y_eval, threshold=0.9, batch_size=32,
                  lr=1e-4, max_steps=1000, check_every=5, seed=0):
    """Deprecated: use :func:`relearn`.

    Fine-tuning steps on target images only until the accuracy on (x_eval, y_eval) exceeds
    ``threshold``. It never looks at the other classes, so a model that the fine-tuning turns
    into one that calls everything the target counts as relearned; :func:`relearn` fine-tunes
    on a mix of target and retain images and also requires the retain accuracy to stay.

    Every weight trains (pruned ones too: masks are dropped), with Adam(lr, eps=1e-3) on
    batches of ``batch_size`` target images; the accuracy is checked every ``check_every``
    steps. The model is left unchanged.

    Returns
    -------
    int or None
        Steps taken (0 if already above), None if not reached within ``max_steps``.
    """
    warnings.warn("forget.relearn_steps fine-tunes on the target class alone and never checks "
                  "the other classes (a model that calls everything the target counts as "
                  "relearned); use forget.relearn", DeprecationWarning, stacklevel=2)
    V.mlp(model)
    x_target, y_target = model._checked_xy(x_target, y_target)
    if x_target.shape[0] == 0:
        raise ValueError("x_target must hold at least one image of the class to relearn; got 0")
    threshold = V.finite_float(threshold, "threshold", low=0, high=1)
    batch_size = V.positive_int(batch_size, "batch_size")
    max_steps = V.positive_int(max_steps, "max_steps")
    check_every = V.positive_int(check_every, "check_every")
    m = with_weights(model, model.weights)     # dense, unmasked copy
    if m.accuracy(x_eval, y_eval) > threshold:
        return 0
    opt = Adam(lr=V.finite_float(lr, "lr", low=0, low_open=True), eps=1e-3)
    steps = 0
    while steps < max_steps:
        n = min(check_every, max_steps - steps)
        train(m, x_target, y_target, optimizer=opt, steps=n,
              batch_size=min(batch_size, len(x_target)), seed=seed + steps, progress=False)
        steps += n
        if m.accuracy(x_eval, y_eval) > threshold:
            return steps
    return None


def linear_probe(model, x_train, y_train, x_test, y_test, ridge=1.0):
    """A linear read-out on each hidden layer: is a class still decodable inside?

    For every hidden layer's activations ``a`` (plus a constant feature), ridge least squares
    onto one-hot labels, ``B = (A^T A + ridge I)^-1 A^T Y``, fitted on the training images;
    a test image is predicted as ``argmax(a B)``.

    Returns
    -------
    float64 array (hidden layers, classes)
        Test accuracy of each layer's probe on each class.
    """
    V.mlp(model)
    x_train, y_train = model._checked_xy(x_train, y_train)
    x_test, y_test = model._checked_xy(x_test, y_test)
    ridge = V.finite_float(ridge, "ridge", low=0)
    C = model.n_classes
    Y = np.eye(C)[y_train]
    train_acts, test_acts = _hidden(model, x_train), _hidden(model, x_test)
    out = []
    for a, b in zip(train_acts, test_acts):
        A = np.hstack([a.astype(np.float64), np.ones((a.shape[0], 1))])
        B = np.linalg.solve(A.T @ A + ridge * np.eye(A.shape[1]), A.T @ Y)
        pred = (np.hstack([b.astype(np.float64), np.ones((b.shape[0], 1))]) @ B).argmax(axis=1)
        hits = np.bincount(y_test, weights=pred == y_test, minlength=C)
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append(hits / np.bincount(y_test, minlength=C))
    return np.array(out)


def _attack_features(model, x):
    """The attacker's features: the outputs sorted descending (class-agnostic), float64."""
    return -np.sort(-model.output(x).astype(np.float64), axis=1)


def _fit_attack(f_member, f_nonmember, steps, l2):
    """Logistic regression (Newton, L2 penalty ``l2``, standardised features plus a constant)
    of member (1) against non-member (0); returns ``predict(features) -> bool``."""
    X = np.vstack([f_member, f_nonmember])
    t = np.r_[np.ones(len(f_member)), np.zeros(len(f_nonmember))]
    mu, sd = X.mean(axis=0), X.std(axis=0) + 1e-12

    def norm(F_):
        return np.hstack([(F_ - mu) / sd, np.ones((len(F_), 1))])

    X = norm(X)
    w = np.zeros(X.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-X @ w))
        grad = X.T @ (p - t) + l2 * w
        H = (X * (p * (1 - p))[:, None]).T @ X + l2 * np.eye(len(w))
        w -= np.linalg.solve(H, grad)
    return lambda F_: norm(F_) @ w > 0


def membership_advantage(model, x_member, x_nonmember, seed=0, steps=200, l2=1e-3):
    """A simple membership-inference attack: logistic regression on the model's outputs.

    Features: the outputs (``model.output``), sorted descending (class-agnostic), and a
    constant. Equal numbers of members and non-members are drawn (the smaller set's size,
    n >= 4), split in halves; the regression is fitted on one half by Newton's method
    (``steps`` iterations, L2 penalty ``l2 >= 0``) and tested on the other.

    When members and non-members come from one distribution the advantage is 0 up to
    sampling: its standard error is at most ``sqrt(0.5 / (n - n // 2))``. Unlearning
    benchmarks compare a forgetting method's advantage with the gold standard's (the network
    trained without the forgotten images), not with 0.

    Returns
    -------
    float
        Advantage = true-positive rate - false-positive rate on the held-out half, in [-1, 1]
        (0: the attacker cannot tell training images from unseen ones).
    """
    V.mlp(model)
    l2 = V.finite_float(l2, "l2", low=0)
    steps = V.positive_int(steps, "steps")
    n = min(len(x_member), len(x_nonmember))
    if n < 4:
        raise ValueError(f"x_member and x_nonmember must hold at least 4 images each; got {n}")
    rng = np.random.default_rng(V.seed_int(seed))
    feats = []
    for xs, name in ((x_member, "x_member"), (x_nonmember, "x_nonmember")):
        xs = model._check_x(xs, name)
        pick = rng.choice(len(xs), n, replace=False)
        feats.append(_attack_features(model, xs[pick]))
    half = n // 2
    predict = _fit_attack(feats[0][:half], feats[1][:half], steps, l2)
    tpr = float(np.mean(predict(feats[0][half:])))
    fpr = float(np.mean(predict(feats[1][half:])))
    return tpr - fpr


def membership_rate(model, x_member, x_nonmember, x_query, seed=0, steps=200, l2=1e-3,
                    n_fit=None):
    """Membership inference as unlearning benchmarks run it (e.g. SSD, Foster et al. 2024):
    fit the attacker on images the model trained on (``x_member``, e.g. retain training
    images) against images it never saw (``x_nonmember``, e.g. test images of the same
    classes), then report the share of ``x_query`` (the forget set) it calls members.

    The attacker is :func:`membership_advantage`'s (logistic regression on the sorted
    outputs), fitted on ``n_fit`` images of each set (default: all of the smaller set).
    The number means little alone: compare it with the gold standard's, the same network
    trained without the forget set, for which the forget set is truly unseen.

    Returns
    -------
    float in [0, 1]
    """
    V.mlp(model)
    l2 = V.finite_float(l2, "l2", low=0)
    steps = V.positive_int(steps, "steps")
    n = min(len(x_member), len(x_nonmember))
    if n_fit is not None:
        n = min(n, V.positive_int(n_fit, "n_fit"))
    if n < 2:
        raise ValueError(f"x_member and x_nonmember must hold at least 2 images each; got {n}")
    x_query = model._check_x(x_query, "x_query")
    if x_query.shape[0] == 0:
        raise ValueError("x_query must hold at least one image; got 0")
    rng = np.random.default_rng(V.seed_int(seed))
    feats = []
    for xs, name in ((x_member, "x_member"), (x_nonmember, "x_nonmember")):
        xs = model._check_x(xs, name)
        feats.append(_attack_features(model, xs[rng.choice(len(xs), n, replace=False)]))
    predict = _fit_attack(feats[0], feats[1], steps, l2)
    return float(np.mean(predict(_attack_features(model, x_query))))
