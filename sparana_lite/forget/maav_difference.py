"""Forgetting: make a trained network forget one class by changing a few weights, no retraining.

    f = Forgetter(model, ds.x_train, ds.y_train, target=7)
    sweep = f.sweep("maav_difference", ks=range(0, 10_001, 500), layers=(1, 2),
                    x=ds.x_test, y=ds.y_test)
    sweep.class_accuracy()            # (len(ks), classes)
    f.model_at("maav_difference", 7000, layers=(1, 2))   # the edited model for one k

A *method* gives, in each chosen layer, an order of the weights (changed first to last) and
the value a chosen weight gets (0 for pruning). Editing the top ``k`` of each chosen layer gives
the model for ``k``; the orders are computed once per method and class, so a sweep over many k
only evaluates. ``x_target`` are the training images of the class to forget (the *forget set*),
``x_rest`` the other training images (the *retain set*). The methods (largest score first):

    maav_difference    S = |W| (mean|a|_target - mean|a|_rest)       the blog (?p=44)
    maav_target        S = |W| mean|a|_target                         control
    maav               S = |W| mean|a|_all                            control (class-agnostic)
    random             S ~ U[0, 1)                                    control
    magnitude          S = |W|                                        control
    selective_pruning  s_i = mean|a_i|_forget / mean|a_i|_retain      whole neurons
    ssd                S = I_forget / I_full, W <- W min(lam I_full / I_forget, 1)

These are the methods ranked by k (one shot). As their papers run them: SSD with a threshold
alpha instead of k (:func:`ssd`, :meth:`Forgetter.ssd_model`, biases optional), Selective
Pruning in repeated steps of a few percent of the neurons (:func:`selective_pruning_steps`).

``layers`` are indices into ``model.layers``: ``(1, 2)`` are the two middle weight matrices of
784-1000-800-400-10 (1000x800 and 800x400), the blog's choice. ``k`` counts weights per chosen
layer; for ``selective_pruning`` a neuron is removed with its whole row of outgoing weights, so
``k`` rounds down to whole rows.

Metrics beyond accuracy: :func:`relearn` (how fast the class comes back while the others
stay), :func:`linear_probe`, :func:`membership_advantage` and :func:`membership_rate`.
:func:`relearn_steps` is the older relearning count, deprecated: it fine-tunes on the target
alone and never looks at the other classes.
"""
from dataclasses import dataclass
import warnings

import numpy as np
import scipy.sparse as sp

from .. import _validate as V
from .. import prune as P
from ..kernels import dense as K
from ..layers import DenseLayer
from ..model import MLP
from ..train import Adam, make_step, train

__all__ = ["METHODS", "MIDDLE", "Forgetter", "Sweep", "class_activity", "selective_pruning_scores",
           "selective_pruning_steps", "fisher_diagonal", "fisher_diagonal_biases", "ssd_factors",
           "ssd", "relearn_steps", "linear_probe", "membership_advantage", "Relearning", "relearn",
           "membership_rate"]

METHODS = ("maav_difference", "maav_target", "maav", "random", "magnitude",
           "selective_pruning", "ssd")
METHOD_LABELS = {"maav_difference": "MAAV difference (blog)", "maav_target": "MAAV on target",
                 "maav": "MAAV, all classes", "random": "random", "magnitude": "largest |w|",
                 "selective_pruning": "Selective Pruning", "ssd": "SSD"}
MIDDLE = (1, 2)
EVAL_CHUNK = 4096


# ------------------------------------------------------------------------ the scores
def selective_pruning_scores(model, x_forget, x_retain, eps=1e-6):
    """Selective Pruning (Pochinkov & Schoots 2024), per neuron, for a ReLU network:

        s_i = I_forget(i) / (I_retain(i) + eps),    I_D(i) = mean_{x in D} |a_i(x)|

    where ``a_i`` is the neuron's (post-activation) output; the neurons with the highest ratio
    are removed whole. Here ``a`` is every layer's input, so entry ``l`` scores the rows of
    ``model.weights[l]`` (the neurons feeding layer ``l``; layer 0's are pixels).

    Returns
    -------
    list of float64 arrays, shape (n_in,) per layer
    """
    eps = V.finite_float(eps, "eps", low=0, low_open=True)
    forget = P.mean_abs_inputs(model, x_forget, name="x_forget")
    retain = P.mean_abs_inputs(model, x_retain, name="x_retain")
    return [f / (r + eps) for f, r in zip(forget, retain)]


def fisher_diagonal(model, x, y, batch_size=250):
    """Diagonal Fisher information as in Selective Synaptic Dampening's code:

        I[i, j] = mean over batches B of (d L_B / d W_ij)^2,   L_B = mean loss over B

    with the model's own loss (LQ: 1/2 sum (z - onehot)^2, SCE: cross-entropy). Batches are
    consecutive rows of ``x``; a last short batch counts as one batch.

    Returns
    -------
    list of float64 arrays, shape (n_in, n_out) per layer (CSR layers: dense, 0 off-pattern)
    """
    return _fisher(model, x, y, batch_size)[0]


def fisher_diagonal_biases(model, x, y, batch_size=250):
    """The same diagonal Fisher information for the biases (SSD's code dampens every
    parameter, biases included): ``I[j] = mean over batches of (d L_B / d b_j)^2``.

    Returns
    -------
    list of float64 arrays, shape (n_out,) per layer
    """
    return _fisher(model, x, y, batch_size)[1]


def _fisher(model, x, y, batch_size):
    """Diagonal Fisher of the weights and of the biases, from one pass over (x, y)."""
    V.mlp(model)
    x, y = model._checked_xy(x, y)
    if x.shape[0] == 0:
        raise ValueError(f"x must hold at least one sample; got shape {x.shape}")
    batch_size = V.positive_int(batch_size, "batch_size")
    total = [np.zeros(layer.shape, dtype=np.float64) for layer in model.layers]
    total_b = [np.zeros(layer.shape[1], dtype=np.float64) for layer in model.layers]
    n_batches = 0
    for start in range(0, x.shape[0], batch_size):
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        dW, db = model.gradients(xb, yb)
        for t, g in zip(total, dW):
            g = g.toarray() if sp.issparse(g) else g
            t += (g.astype(np.float64) / xb.shape[0]) ** 2
        for t, g in zip(total_b, db):
            t += (np.asarray(g, np.float64).reshape(-1) / xb.shape[0]) ** 2
        n_batches += 1
    return [t / n_batches for t in total], [t / n_batches for t in total_b]


def ssd_factors(i_forget, i_full, alpha=10.0, lam=1.0):
    """Selective Synaptic Dampening (Foster, Schoepf & Brintrup, AAAI 2024):

        beta = min(lam * I_full / I_forget, 1)  where I_forget > alpha * I_full,  1 elsewhere

    and the edited weight is ``beta * W``. ``i_forget``, ``i_full``: diagonal Fisher
    importances (:func:`fisher_diagonal`) on the forget set and on the full training set.

    Importances are squared gradients: a negative or NaN one (which would flip a weight's sign
    or pass silently as 1) is refused with a ValueError.

    Returns
    -------
    list of float64 arrays, the factors beta, same shapes as the inputs
    """
    alpha = V.finite_float(alpha, "alpha", low=0)
    lam = V.finite_float(lam, "lam", low=0)
    if len(i_forget) != len(i_full):
        raise ValueError(f"i_forget and i_full must have one array per layer; got "
                         f"{len(i_forget)} and {len(i_full)}")
    out = []
    for l, (f, d) in enumerate(zip(i_forget, i_full)):
        f = _importances(f, f"i_forget[{l}]")
        d = _importances(d, f"i_full[{l}]")
        if f.shape != d.shape:
            raise ValueError(f"i_forget and i_full must have the same shapes; got {f.shape} "
                             f"and {d.shape}")
        chosen = f > alpha * d
        beta = np.ones(f.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            beta[chosen] = np.minimum(lam * d[chosen] / f[chosen], 1.0)
        out.append(beta)
    return out


def ssd(model, x_forget, y_forget, x_full, y_full, alpha=10.0, lam=1.0, layers=None,
        batch_size=250, biases=False):
    """The SSD-edited model, as the paper runs it (every layer by default, no k).

    ``biases=True`` dampens the biases too, with the same rule on their own Fisher
    importances, as the paper's code does (it loops over every parameter); the default,
    False, dampens weights only.

    Returns
    -------
    (MLP, int)
        The edited model (dense) and the number of parameters changed (weights, plus biases
        when ``biases`` is True).
    """
    fw, fb = _fisher(model, x_forget, y_forget, batch_size)
    dw, db = _fisher(model, x_full, y_full, batch_size)
    beta_b = ssd_factors(fb, db, alpha, lam) if biases else None
    return _dampen(model, ssd_factors(fw, dw, alpha, lam), layers, beta_b)


def _dampen(model, beta, layers, beta_b=None):
    """``W * beta`` (and ``b * beta_b`` if given) in the chosen layers (all if None); the model
    and the number of parameters changed."""
    chosen = model._layer_indices(layers)
    weights = [W * b.astype(np.float32) if i in chosen else W
               for i, (W, b) in enumerate(zip(model.weights, beta))]
    changed = sum(int(np.count_nonzero((b < 1) & (W != 0)))
                  for i, (W, b) in enumerate(zip(model.weights, beta)) if i in chosen)
    edited = _with_weights(model, weights)
    if beta_b is not None:
        for i, (layer, f) in enumerate(zip(edited.layers, beta_b)):
            if i in chosen:
                changed += int(np.count_nonzero((f < 1) & (layer.b != 0)))
                layer.b[...] = (layer.b * f.astype(np.float32)).astype(layer.b.dtype)
    return edited, changed


def selective_pruning_steps(model, x_forget, x_retain, layers=(1, 2), fraction=0.02,
                            max_steps=50, eps=1e-6):
    """Selective Pruning as published (Pochinkov & Schoots 2024): iterative.

    Each step scores the neurons of the *current* model (:func:`selective_pruning_scores`:
    mean |activation| on ``x_forget`` over that on ``x_retain``) and removes, in each layer of
    ``layers``, the ``ceil(fraction * width)`` not yet removed neurons with the highest ratio
    (a neuron is removed by zeroing its row of outgoing weights in ``model.weights[l]``, so
    layer ``l``'s rows are the neurons feeding it). The caller stops when the forget metric
    has fallen far enough (the paper repeats steps until it does).

    Parameters
    ----------
    model : MLP
        Left unchanged.
    x_forget, x_retain : float arrays (n, features)
    layers : tuple of int
        Layers whose input neurons are pruned; ``(1, 2)``: the 1000 and 800 neurons feeding
        the two middle weight matrices of 784-1000-800-400-10.
    fraction : float in (0, 1]
        Share of each layer's neurons removed per step (the paper: a few percent).
    max_steps : int
        Steps at most (fewer if every neuron of a layer is gone).

    Yields
    ------
    (int, MLP, list of int64 arrays, int)
        Step (1, 2, ...), the pruned model (masked: zeros stay zero in training), the removed
        neurons of each chosen layer so far, and the number of weights zeroed so far.
    """
    V.mlp(model)
    fraction = V.finite_float(fraction, "fraction", low=0, high=1, low_open=True)
    max_steps = V.positive_int(max_steps, "max_steps")
    layers = tuple(sorted(set(model._layer_indices(layers))))
    if not layers:
        raise ValueError("layers must name at least one layer")
    removed = {l: np.zeros(model.widths[l], bool) for l in layers}
    current = model
    for step in range(1, max_steps + 1):
        scores = selective_pruning_scores(current, x_forget, x_retain, eps=eps)
        keep = [None] * len(model.weights)
        for l in layers:
            n = model.widths[l]
            per_step = int(np.ceil(fraction * n))
            s = np.where(removed[l], -np.inf, scores[l])
            order = np.argsort(-s, kind="stable")
            fresh = order[:per_step]
            fresh = fresh[~removed[l][fresh]]
            removed[l][fresh] = True
            mask = np.ones(model.weights[l].shape, bool)
            mask[removed[l], :] = False
            keep[l] = mask
        current = P.apply_masks(model, keep)
        zeroed = sum(int(np.count_nonzero(model.weights[l][removed[l], :])) for l in layers)
        yield step, current, [np.flatnonzero(removed[l]) for l in layers], zeroed
        if any(removed[l].all() for l in layers):
            return


def class_activity(model, x, y, batch_size=P.MAAV_BATCH):
    """Mean |input| of every layer, per class: one pass over (x, y) serves every target.

    Returns
    -------
    (list of float64 arrays (classes, n_in) per layer, int64 array (classes,))
        ``means[l][c]`` is ``mean_{n: y_n = c} |a_l^(n)|`` (NaN for an absent class), and the
        number of images of each class.
    """
    V.mlp(model)
    x, y = model._checked_xy(x, y)
    batch_size = V.positive_int(batch_size, "batch_size")
    C = model.n_classes
    sums = [np.zeros((C, n_in)) for n_in in model.widths[:-1]]
    for start in range(0, x.shape[0], batch_size):
        acts = model.forward(x[start:start + batch_size])
        onehot = np.eye(C)[y[start:start + batch_size]]
        for total, a in zip(sums, acts[:-1]):
            total += onehot.T @ np.abs(a).astype(np.float64)
    counts = np.bincount(y, minlength=C)
    with np.errstate(invalid="ignore", divide="ignore"):
        return [s / counts[:, None] for s in sums], counts


# ----------------------------------------------------------------------- the sweep
@dataclass
class Sweep:
    """Outputs of the edited models along a k sweep.

    Attributes
    ----------
    method : str
    target : int
    layers : tuple of int
    ks : int64 array (m,)
        Weights per chosen layer asked for.
    changed : int64 array (m, len(layers))
        Weights actually changed in each chosen layer (whole rows for selective pruning).
    outputs : float32 array (m, n, classes)
        ``model.logits`` of each edited model on the evaluation images.
    y : int64 array (n,)
        Their labels.
    """

    method: str
    target: int
    layers: tuple
    ks: np.ndarray
    changed: np.ndarray
    outputs: np.ndarray
    y: np.ndarray

    def predictions(self):
        """int64 (m, n)."""
        return self.outputs.argmax(axis=2)

    def class_accuracy(self):
        """Accuracy on each class, float64 (m, classes)."""
        n_classes = self.outputs.shape[2]
        correct = self.predictions() == self.y[None, :]
        counts = np.bincount(self.y, minlength=n_classes)
        hits = np.stack([np.bincount(self.y, weights=c, minlength=n_classes) for c in correct])
        with np.errstate(invalid="ignore", divide="ignore"):
            return hits / counts

    def target_accuracy(self):
        """Accuracy on the target class, float64 (m,)."""
        return self.class_accuracy()[:, self.target]

    def rest_accuracy(self):
        """Accuracy on all images of the other classes, float64 (m,)."""
        rest = self.y != self.target
        return (self.predictions()[:, rest] == self.y[None, rest]).mean(axis=1)

    def confusion_row(self):
        """Where the target's images go: fraction predicted as each class, float64 (m, classes)."""
        pred = self.predictions()[:, self.y == self.target]
        n_classes = self.outputs.shape[2]
        return np.stack([np.bincount(p, minlength=n_classes) / max(p.size, 1) for p in pred])

    def first_k_below(self, level):
        """The smallest swept k whose target accuracy is below ``level`` (None if none)."""
        below = np.flatnonzero(self.target_accuracy() < level)
        return int(self.ks[below[0]]) if below.size else None


class Forgetter:
    """One model, one target class: the methods' orders, computed once, and edited models.

    Parameters
    ----------
    model : MLP
        Left unchanged. Dense or CSR layers.
    x_train, y_train : arrays (n, features), (n,)
        Training images; the forget set is ``y_train == target``, the retain set the rest.
    target : int
        The class to forget.
    seed : int
        Seed of the random control.
    ssd_batch : int
        Batch size of the Fisher importances (SSD).
    activity : result of :func:`class_activity` on (x_train, y_train), optional
        Pass it to share one pass over the training images between targets.
    """

    def __init__(self, model, x_train, y_train, target, seed=0, ssd_batch=250, activity=None):
        V.mlp(model)
        self.model = model
        x, y = model._checked_xy(x_train, y_train)
        if isinstance(target, bool) or not isinstance(target, (int, np.integer)) \
                or not 0 <= target < model.n_classes:
            raise ValueError(f"target must be a class label in [0, {model.n_classes - 1}]; "
                             f"got {target!r}")
        self.target = int(target)
        is_target = y == self.target
        if not is_target.any() or is_target.all():
            raise ValueError(f"y_train must hold images of class {target} and of other classes")
        self.x_train, self.y_train = x, y
        self.x_target, self.x_rest = x[is_target], x[~is_target]
        self.seed = V.seed_int(seed)
        self.ssd_batch = V.positive_int(ssd_batch, "ssd_batch")
        self.weights = model.weights
        self._stats = {}
        self._orders = {}
        if activity is not None:
            means, counts = activity
            if len(means) != len(self.weights) or any(
                    np.shape(m) != (model.n_classes, n) for m, n in zip(means, model.widths)):
                raise ValueError("activity must be class_activity(model, x_train, y_train)")
            self._stats["activity"] = (means, np.asarray(counts))

    # ------------------------------------------------------------ statistics, orders
    def _stat(self, name):
        if name not in self._stats:
            m = self.model
            if name == "activity":
                v = class_activity(m, self.x_train, self.y_train)
            elif name in ("act_target", "act_rest", "act_all"):
                means, counts = self._stat("activity")
                w = counts.astype(np.float64)
                if name == "act_target":
                    w = (np.arange(len(w)) == self.target) * w
                elif name == "act_rest":
                    w = (np.arange(len(w)) != self.target) * w
                v = [np.nan_to_num(mu).T @ w / w.sum() for mu in means]
            elif name in ("fisher_target", "fisher_target_biases"):
                v, vb = _fisher(m, self.x_target, self.y_train[self.y_train == self.target],
                                self.ssd_batch)
                self._stats["fisher_target_biases"] = vb
                v = v if name == "fisher_target" else vb
            elif name in ("fisher_all", "fisher_all_biases"):
                v, vb = _fisher(m, self.x_train, self.y_train, self.ssd_batch)
                self._stats["fisher_all_biases"] = vb
                v = v if name == "fisher_all" else vb
            self._stats[name] = v
        return self._stats[name]

    def scores(self, method, layer):
        """The method's score of every weight of ``layer``, float64 (n_in, n_out); higher
        is changed first. ``selective_pruning`` gives each row its neuron's ratio.
        ``layer`` is an index in [0, number of layers - 1] (no negative indices)."""
        _check_method(method)
        layer = self._check_layer(layer)
        W = self.weights[layer]
        if method == "maav_difference":
            return np.abs(W) * (self._stat("act_target")[layer]
                                - self._stat("act_rest")[layer])[:, None]
        if method == "maav_target":
            return np.abs(W) * self._stat("act_target")[layer][:, None]
        if method == "maav":
            return np.abs(W) * self._stat("act_all")[layer][:, None]
        if method == "magnitude":
            return np.abs(W).astype(np.float64)
        if method == "random":
            rng = np.random.default_rng([self.seed, layer])
            return rng.random(W.shape)
        if method == "selective_pruning":
            t, r = self._stat("act_target")[layer], self._stat("act_rest")[layer]
            return np.broadcast_to((t / (r + 1e-6))[:, None], W.shape)
        f, d = self._stat("fisher_target")[layer], self._stat("fisher_all")[layer]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(f > 0, f / np.where(d > 0, d, np.finfo(np.float64).tiny), 0.0)

    def order(self, method, layer):
        """Flat indices of the nonzero weights of ``layer``, first changed first: descending
        score, ties by flat index (as ``sl.prune.prune(..., largest=True)``).
        ``layer`` is an index in [0, number of layers - 1] (no negative indices)."""
        _check_method(method)
        layer = self._check_layer(layer)
        key = (method, layer)
        if key not in self._orders:
            W = self.weights[layer]
            idx = np.flatnonzero(W)
            if method == "selective_pruning":
                # whole neurons: rows by descending ratio, each row's nonzeros in column order
                s = self.scores(method, layer)[:, 0]
                rows = np.argsort(-s, kind="stable")
                flat = (rows[:, None] * W.shape[1] + np.arange(W.shape[1])[None, :]).ravel()
                order = flat[W.reshape(-1)[flat] != 0]
            else:
                s = self.scores(method, layer).reshape(-1)[idx]
                order = idx[np.argsort(-s, kind="stable")]
            self._orders[key] = order
        return self._orders[key]

    def fisher(self):
        """SSD's diagonal Fisher importances (:func:`fisher_diagonal`), computed once:
        ``(i_forget, i_full)`` on the target's training images and on all of them."""
        return self._stat("fisher_target"), self._stat("fisher_all")

    def fisher_biases(self):
        """The biases' diagonal Fisher importances (:func:`fisher_diagonal_biases`), computed in
        the same pass as :meth:`fisher`: ``(i_forget, i_full)``."""
        return self._stat("fisher_target_biases"), self._stat("fisher_all_biases")

    def ssd_model(self, alpha=10.0, lam=1.0, layers=None, biases=False):
        """SSD as published: threshold ``alpha``, no k (every layer by default); the
        importances are this Forgetter's. ``biases=True`` dampens the biases too, as the
        paper's code does. Returns (MLP, number of parameters changed)."""
        beta_b = ssd_factors(*self.fisher_biases(), alpha, lam) if biases else None
        return _dampen(self.model, ssd_factors(*self.fisher(), alpha, lam), layers, beta_b)

    def _count(self, method, layer, k):
        """How many of the ordered weights k means (whole rows for selective pruning)."""
        n = self.order(method, layer).size
        if k > n:
            raise ValueError(f"k is {k} but layer {layer} has only {n} nonzero weights")
        if method != "selective_pruning":
            return k
        W = self.weights[layer]
        nnz_rows = np.count_nonzero(W, axis=1)[np.argsort(
            -self.scores(method, layer)[:, 0], kind="stable")]
        full = np.searchsorted(np.cumsum(nnz_rows), k, side="right")
        return int(nnz_rows[:full].sum())

    def _new_values(self, method, layer, flat):
        """The values the weights at ``flat`` get: 0, or SSD's dampened weights."""
        if method != "ssd":
            return np.zeros(flat.size, np.float32)
        f = self._stat("fisher_target")[layer].reshape(-1)[flat]
        d = self._stat("fisher_all")[layer].reshape(-1)[flat]
        with np.errstate(divide="ignore", invalid="ignore"):
            beta = np.where(f > 0, np.minimum(d / f, 1.0), 1.0)   # lambda = 1, the default
        return (self.weights[layer].reshape(-1)[flat] * beta).astype(np.float32)

    def _delta(self, method, layer, k):
        """Sparse (n_in, n_out) W_old - W_new for the top k, and the number changed."""
        c = self._count(method, layer, k)
        flat = self.order(method, layer)[:c]
        W = self.weights[layer]
        d = W.reshape(-1)[flat] - self._new_values(method, layer, flat)
        rows, cols = np.divmod(flat, W.shape[1])
        return sp.csr_matrix((d, (rows, cols)), shape=W.shape, dtype=np.float32), c

    # ----------------------------------------------------------------- edited models
    def model_at(self, method, k, layers=MIDDLE):
        """The edited model: the top ``k`` weights of each layer in ``layers`` changed (zeroed,
        or dampened for SSD). Dense layers keep the zeros in training (a mask), like
        ``sl.prune.prune``."""
        layers = self._check_layers(layers)
        k = V.positive_int(k, "k", minimum=0)
        keep, weights = [None] * len(self.weights), list(self.weights)
        for l in layers:
            delta, _ = self._delta(method, l, k)
            weights = list(weights)
            weights[l] = self.weights[l] - delta.toarray()
        edited = _with_weights(self.model, weights)
        if method == "ssd":
            return edited
        for l in layers:
            keep[l] = weights[l] != 0
        return P.apply_masks(edited, keep)

    def sweep(self, method, ks, layers=MIDDLE, x=None, y=None, progress=False):
        """Outputs of the edited model for every k in ``ks`` on (x, y).

        Only the layers from the first chosen one on are recomputed; the first chosen layer's
        input is fixed, so its product is updated by the sparse change alone.

        Parameters
        ----------
        method : str, one of METHODS
        ks : sequence of int >= 0
        layers : tuple of int
            Layer indices to edit (same k in each).
        x, y : evaluation images and labels
        progress : bool
            A tqdm bar over ks.

        Returns
        -------
        Sweep
        """
        _check_method(method)
        layers = self._check_layers(layers)
        if x is None or y is None:
            raise ValueError("x and y (the evaluation images and labels) are required")
        x, y = self.model._checked_xy(x, y)
        if isinstance(ks, (str, bytes)) or not hasattr(ks, "__iter__"):
            raise ValueError(f"ks must be a sequence of integers >= 0; got {ks!r}")
        ks = [V.positive_int(k, f"ks[{i}]", minimum=0) for i, k in enumerate(ks)]
        if not ks:
            raise ValueError("ks must hold at least one value")
        first = min(layers)
        kinds = self.model._kinds()
        biases = self.model.biases
        # input of the first edited layer and its product, computed once
        a_first = _forward_to(self.model, x, first)
        product_first = a_first @ self.weights[first]
        outputs = np.empty((len(ks), x.shape[0], self.model.n_classes), np.float32)
        changed = np.zeros((len(ks), len(layers)), np.int64)
        from tqdm.auto import tqdm
        for n, k in enumerate(tqdm(ks, disable=not progress, desc=method, leave=False)):
            a = a_first
            for l in range(first, len(self.weights)):
                if l in layers:
                    delta, c = self._delta(method, l, k)
                    changed[n, layers.index(l)] = c
                    if l == first:
                        z = product_first - (delta.T @ a.T).T
                    else:
                        z = a @ (self.weights[l] - delta.toarray())
                else:
                    z = a @ self.weights[l]
                z = np.ascontiguousarray(z, dtype=np.float32)
                a = K.bias_act_(z, biases[l], kinds[l])
            outputs[n] = a
        return Sweep(method, self.target, layers, np.array(ks, np.int64), changed, outputs, y)

    def _check_layer(self, layer):
        """One layer index in [0, n - 1]: a negative index is refused, not read from the end."""
        n = len(self.weights)
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) \
                or not 0 <= layer < n:
            raise ValueError(f"layer must be a layer index in [0, {n - 1}]; got {layer!r}")
        return int(layer)

    def _check_layers(self, layers):
        if isinstance(layers, (int, np.integer)) and not isinstance(layers, bool):
            layers = (layers,)
        if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
            raise ValueError(f"layers must be a tuple of layer indices; got {layers!r}")
        layers = tuple(layers)
        n = len(self.weights)
        if not layers or any(isinstance(l, bool) or not isinstance(l, (int, np.integer))
                             or not 0 <= l < n for l in layers):
            raise ValueError(f"layers must hold layer indices in [0, {n - 1}]; got {layers!r}")
        if len(set(layers)) != len(layers):
            raise ValueError(f"layers must not repeat an index; got {layers!r}")
        return tuple(sorted(int(l) for l in layers))


# -------------------------------------------------------------------------- metrics
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
    m = _with_weights(model, model.weights)     # dense, unmasked copy
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
    m = _with_weights(model, model.weights)     # dense, unmasked copy
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


# -------------------------------------------------------------------------- helpers
def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")


def _importances(values, name):
    """Fisher importances as float64: finite and >= 0, else a ValueError naming them."""
    arr = np.asarray(values, np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must hold finite importances (squared gradients); got NaN or "
                         f"infinite values")
    if np.any(arr < 0):
        raise ValueError(f"{name} must hold importances >= 0 (squared gradients); got "
                         f"{arr.min()!r}")
    return arr


def _with_weights(model, weights):
    """A dense, unmasked model with these weights and the model's biases."""
    layers = [DenseLayer(np.array(W, dtype=np.float32, order="C"), b.copy())
              for W, b in zip(weights, model.biases)]
    return MLP.from_layers(layers, model.head, model.activation, model.seed, model.metadata)


def _forward_to(model, x, layer):
    """The input of ``model.layers[layer]`` for images x, float32 (n, n_in)."""
    if layer == 0:
        return x
    parts = []
    for start in range(0, x.shape[0], EVAL_CHUNK):
        parts.append(model.forward(x[start:start + EVAL_CHUNK])[layer])
    return np.concatenate(parts)


def _hidden(model, x):
    """Every hidden layer's activations for x: list of float32 (n, width)."""
    parts = [model.forward(x[s:s + EVAL_CHUNK])[1:-1] for s in range(0, x.shape[0], EVAL_CHUNK)]
    return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]
