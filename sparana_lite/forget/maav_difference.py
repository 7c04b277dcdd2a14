"""The blog's forgetting by MAAV difference: rank each layer's weights, zero the top k, sweep k.

    f = Forgetter(model, ds.x_train, ds.y_train, target=7)
    sweep = f.sweep("maav_difference", ks=range(0, 10_001, 500), layers=(1, 2),
                    x=ds.x_test, y=ds.y_test)
    sweep.class_accuracy()            # (len(ks), classes)
    f.model_at("maav_difference", 7000, layers=(1, 2))   # the edited model for one k

The blog's score of weight ``W_ij`` (?p=44) is ``|W_ij| (mean|a_i|_target - mean|a_i|_rest)``,
with the mean activities of every class from one pass over the training images
(:func:`class_activity`). A :class:`Forgetter` ranks the weights of each layer by a method of
:data:`METHODS`: the MAAV difference, its controls, and, for comparison, Selective Pruning's and
SSD's scores ranked the same way (one shot, by k; see :mod:`.selective_pruning` and
:mod:`.ssd`). :meth:`Forgetter.sweep` evaluates many k at the cost of one forward pass each.
"""
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .. import _validate as V
from .. import prune as P
from ..convert import with_weights
from ..kernels import dense as K
from ._activations import _forward_to
from .ssd import _dampen, _fisher, ssd_factors

__all__ = ["METHODS", "METHOD_LABELS", "MIDDLE", "Forgetter", "Sweep", "class_activity"]

METHODS = ("maav_difference", "maav_target", "maav", "random", "magnitude",
           "selective_pruning", "ssd")
METHOD_LABELS = {"maav_difference": "MAAV difference (blog)", "maav_target": "MAAV on target",
                 "maav": "MAAV, all classes", "random": "random", "magnitude": "largest |w|",
                 "selective_pruning": "Selective Pruning", "ssd": "SSD"}
MIDDLE = (1, 2)


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
        edited = with_weights(self.model, weights)
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


# -------------------------------------------------------------------------- helpers
def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
