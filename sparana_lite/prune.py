"""Pruning: score every weight, then zero the lowest (or highest) scores.

In the style of ``torch.nn.utils.prune``: small functions compute *scores*, one array per layer
with the shape of its weight matrix ``W`` (n_in, n_out), and :func:`prune` turns scores into a
new model through one mechanism, :func:`apply_masks`. The criteria:

    magnitude         S = |W|
    maav              S = |W| * mean_n |a|        a: the layer's input (pixels, or the previous
                                                  hidden activation), one value per row i of W
    maav_difference   S = maav(x_target) - maav(x_rest)
    random            S ~ U[0, 1), seeded
    activation_rank   S[i, j] = rank of |W[i, j]| (or MAAV) within row i

MAAV ("mean activated absolute value") is ``mean_n |a_i^(n) W_ij| = |W_ij| mean_n |a_i^(n)|``;
we divide by the number of samples, where the original Sparana summed (its ``/ len(data)`` was a
no-op). Rankings within a set are the same; differences between two sets are not, and means
keep :func:`maav_difference` from favouring the larger set.

Pruned weights stay zero in later training: a pruned dense layer carries a mask, and a CSR layer
stores only its surviving weights (its pattern is its mask).
"""

import numpy as np
import scipy.sparse as sp

from . import _validate as V
from .layers import CSRLayer, DenseLayer
from .model import MLP

__all__ = ["magnitude", "maav", "mean_abs_inputs", "maav_difference", "random", "activation_rank",
           "prune", "apply_masks"]

MAAV_BATCH = 1024  # rows per forward pass when computing MAAV


# ---------------------------------------------------------------------------- scores

def magnitude(model):
    """Magnitude scores ``|W|``.

    Parameters
    ----------
    model : MLP

    Returns
    -------
    list of float32 arrays, shape (n_in, n_out) per layer
        Dense arrays also for CSR layers (zero where no weight is stored).
    """
    V.mlp(model)._require_cpu("pruning")
    return [np.abs(W).astype(np.float32, copy=False) for W in model.weights]


def mean_abs_inputs(model, x, batch_size=MAAV_BATCH, name="x"):
    """``mean_n |a^(n)|`` of every layer's input: pixels for layer 0, hidden activations after.

    Returns a list of float64 vectors, shape (n_in,) per layer. Runs the model's forward pass on
    batches of ``batch_size`` rows and accumulates in float64.
    """
    V.mlp(model)._require_cpu("pruning")
    x = model._check_x(x, name)
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample; got shape {x.shape}")
    batch_size = V.positive_int(batch_size, "batch_size")
    sums = [np.zeros(n_in, dtype=np.float64) for n_in in model.widths[:-1]]
    for start in range(0, x.shape[0], batch_size):
        acts = model.forward(x[start:start + batch_size])  # [x, a_1, ..., a_{L-1}, z_L]
        for total, a in zip(sums, acts[:-1]):
            total += np.abs(a).sum(axis=0, dtype=np.float64)
    return [total / x.shape[0] for total in sums]


def maav(model, x, batch_size=MAAV_BATCH):
    """Mean activated absolute values (MAAV), one score per weight:

        S[i, j] = mean_n |a_i^(n) W_ij| = |W_ij| * mean_n |a_i^(n)|

    ``a`` is the layer's input (the pixels for the first layer, the previous hidden layer's
    activation otherwise). A mean over the samples; the original Sparana summed instead.

    Parameters
    ----------
    model : MLP
    x : array (n, n_features)
        Samples, n >= 1.
    batch_size : int
        Rows per forward pass (bounds memory; the result does not depend on it beyond rounding).

    Returns
    -------
    list of float32 arrays, shape (n_in, n_out) per layer
    """
    means = mean_abs_inputs(model, x, batch_size)
    return [(np.abs(W) * m[:, None]).astype(np.float32) for W, m in zip(model.weights, means)]


def maav_difference(model, x_target, x_rest, batch_size=MAAV_BATCH):
    """``maav(model, x_target) - maav(model, x_rest)``: high for weights used more by the target.

    Computed as ``|W| * (mean_n |a_target| - mean_n |a_rest|)``, the same thing. Both are means,
    so the sizes of the two sets do not bias the difference. Pruning the largest
    values (``prune(..., largest=True)``) removes what the target relies on most (forgetting).

    Returns
    -------
    list of float32 arrays, shape (n_in, n_out) per layer
    """
    target = mean_abs_inputs(model, x_target, batch_size, "x_target")
    rest = mean_abs_inputs(model, x_rest, batch_size, "x_rest")
    return [(np.abs(W) * (t - r)[:, None]).astype(np.float32)
            for W, t, r in zip(model.weights, target, rest)]


def random(model, seed=0):
    """Uniform random scores in [0, 1), seeded: random pruning.

    Returns
    -------
    list of float32 arrays, shape (n_in, n_out) per layer
    """
    V.mlp(model)._require_cpu("pruning")
    rng = np.random.default_rng(V.seed_int(seed))
    return [rng.random(layer.shape, dtype=np.float32) for layer in model.layers]


def activation_rank(model, x=None, batch_size=MAAV_BATCH):
    """Row-wise ranks: ``S[i, j]`` = rank 0..n_out-1 of weight (i, j) among row i's weights.

    Each input neuron i ranks its outgoing weights by ``|W|`` (or by MAAV when ``x`` is given);
    ties go to the lower column. Pruning the lowest ranks thins every fan-out evenly. Every
    nonzero weight stays a candidate, rank 0 included (the original lost rank 0).

    Returns
    -------
    list of float32 arrays, shape (n_in, n_out) per layer
    """
    base = magnitude(model) if x is None else maav(model, x, batch_size)
    ranks = []
    for s in base:
        order = np.argsort(s, axis=1, kind="stable")
        r = np.empty(s.shape, dtype=np.float32)
        np.put_along_axis(r, order, np.arange(s.shape[1], dtype=np.float32)[None, :], axis=1)
        ranks.append(r)
    return ranks


# --------------------------------------------------------------------------- pruning

def prune(model, scores, ratio=None, ratios=None, counts=None, largest=False, prune_last=False):
    """A new model with the lowest-scored (or highest, ``largest=True``) nonzero weights zeroed.

    Give exactly one of ``ratio``, ``ratios``, ``counts``. In each chosen layer the candidates
    are the currently nonzero weights, ordered by score, ties by flat (row-major) index.

    Parameters
    ----------
    model : MLP
        Left unchanged.
    scores : list of arrays, shape (n_in, n_out) per layer
        From :func:`magnitude`, :func:`maav`, ... Finite.
    ratio : float in [0, 1]
        Target fraction of zero weights in every layer but the last (the last too with
        ``prune_last=True``).
    ratios : list of (float in [0, 1] or None), one per layer
        Per-layer target fractions of zeros; None or 0 leaves a layer alone.
    counts : list of (int >= 0 or None), one per layer
        Number of nonzero weights to zero in each layer in this call; None or 0 leaves a layer
        alone. A count above a layer's number of nonzero weights raises ValueError.
    largest : bool
        Prune the highest scores instead of the lowest (forgetting with :func:`maav_difference`).
    prune_last : bool
        With ``ratio``: prune the final layer too.

    Returns
    -------
    MLP
        A new model. A target ratio ``r`` of a layer with ``size`` weights, ``zeros`` of them
        already zero, prunes ``max(0, floor(r * size + 1/2) - zeros)`` weights: r * size
        rounded to the nearest integer, halves up; a target already met prunes nothing, and
        ``r = 1`` empties the layer. Every chosen layer keeps its zeros: dense layers get the
        mask ``old mask & (W != 0)``, CSR layers drop the zeros from storage.
    """
    V.mlp(model)._require_cpu("pruning")
    n_layers = len(model.layers)
    scores = _check_scores(model, scores)
    if not isinstance(largest, (bool, np.bool_)):
        raise ValueError(f"largest must be True or False; got {largest!r}")
    if not isinstance(prune_last, (bool, np.bool_)):
        raise ValueError(f"prune_last must be True or False; got {prune_last!r}")
    given = [name for name, v in (("ratio", ratio), ("ratios", ratios), ("counts", counts))
             if v is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of ratio, ratios and counts; got {given or 'none'}")
    if prune_last and ratio is None:
        raise ValueError("prune_last applies to ratio only; with ratios or counts, give the "
                         "last layer's entry instead")

    weights = model.weights
    if ratio is not None:
        r = V.finite_float(ratio, "ratio", low=0, high=1)
        n_pruned = n_layers if prune_last else n_layers - 1
        ks = [_count_for_ratio(W, r) if i < n_pruned and r > 0 else None
              for i, W in enumerate(weights)]
    elif ratios is not None:
        targets = _per_layer(ratios, "ratios", n_layers)
        ks = []
        for i, (W, t) in enumerate(zip(weights, targets)):
            if t is not None:
                t = V.finite_float(t, f"ratios[{i}]", low=0, high=1)
            ks.append(None if t is None or t == 0 else _count_for_ratio(W, t))
    else:
        ks = []
        for i, (W, c) in enumerate(zip(weights, _per_layer(counts, "counts", n_layers))):
            if c is not None:
                c = V.positive_int(c, f"counts[{i}]", minimum=0)
                nnz = int(np.count_nonzero(W))
                if c > nnz:
                    raise ValueError(f"counts[{i}] is {c} but layer {i} has only {nnz} nonzero "
                                     f"weights left to prune")
            ks.append(None if not c else c)

    keep = [None if k is None else _keep_mask(W, s, k, largest)
            for W, s, k in zip(weights, scores, ks)]
    return apply_masks(model, keep)


def apply_masks(model, keep):
    """A new model with weights zeroed where ``keep[i]`` is False, and kept zero in training.

    The one mechanism pruning uses. Dense layer: ``W * keep`` with mask ``old mask & keep``.
    CSR layer: the entries outside ``keep`` are dropped from storage.

    Parameters
    ----------
    model : MLP
    keep : list of (bool array (n_in, n_out) or None), one per layer
        None leaves a layer as it is.

    Returns
    -------
    MLP
    """
    V.mlp(model)._require_cpu("pruning")
    keep = _per_layer(keep, "keep", len(model.layers))
    layers = []
    for i, (layer, k) in enumerate(zip(model.layers, keep)):
        if k is None:
            layers.append(layer.copy())
            continue
        k = V.bool_mask(k, f"keep[{i}]", layer.shape)
        if layer.sparse:
            W = layer.W.tocoo()
            stay = k[W.row, W.col]
            W = sp.csr_matrix((W.data[stay], (W.row[stay], W.col[stay])), shape=layer.shape)
            layers.append(CSRLayer(W, layer.b.copy()))
        else:
            mask = k if layer.mask is None else k & layer.mask
            layers.append(DenseLayer(layer.W * mask, layer.b.copy(), mask))
    return MLP.from_layers(layers, model.head, model.activation, model.seed, model.metadata)


# --------------------------------------------------------------------------- helpers

def _count_for_ratio(W, r):
    """Weights to prune for a target fraction r of zeros: round(r * size) - zeros, at least 0."""
    target = int(np.floor(r * W.size + 0.5))  # nearest integer, halves up
    return max(0, target - (W.size - int(np.count_nonzero(W))))


def _keep_mask(W, s, k, largest):
    """Bool (n_in, n_out): False at W's zeros and at the k nonzeros of lowest (highest) score."""
    keep = (W != 0).reshape(-1)
    if k:
        idx = np.flatnonzero(keep)                       # ascending flat indices
        key = -s.reshape(-1)[idx] if largest else s.reshape(-1)[idx]
        order = np.argsort(key, kind="stable")           # ties keep the flat-index order
        keep[idx[order[:k]]] = False
    return keep.reshape(W.shape)


def _per_layer(values, name, n_layers):
    if isinstance(values, np.ndarray) and values.ndim == 1:
        values = list(values)
    if not isinstance(values, (list, tuple)):
        raise ValueError(f"{name} must be a list with one entry per layer ({n_layers}); "
                         f"got {values!r}")
    if len(values) != n_layers:
        raise ValueError(f"{name} must have one entry per layer ({n_layers}); got {len(values)}")
    return list(values)


def _check_scores(model, scores):
    if not isinstance(scores, (list, tuple)):
        raise ValueError(f"scores must be a list with one array per layer "
                         f"({len(model.layers)}); got {type(scores).__name__}")
    if len(scores) != len(model.layers):
        raise ValueError(f"scores must have one array per layer ({len(model.layers)}); "
                         f"got {len(scores)}")
    out = []
    for i, (s, layer) in enumerate(zip(scores, model.layers)):
        s = np.asarray(s)
        if s.shape != layer.shape:
            raise ValueError(f"scores[{i}] must have shape {layer.shape}; got {s.shape}")
        if not (np.issubdtype(s.dtype, np.number) or s.dtype == np.bool_) or np.iscomplexobj(s):
            raise TypeError(f"scores[{i}] must hold real numbers; got dtype {s.dtype}")
        s = s.astype(np.float64)
        if not np.isfinite(s).all():
            raise ValueError(f"scores[{i}] contains NaN or infinite values")
        out.append(s)
    return out
