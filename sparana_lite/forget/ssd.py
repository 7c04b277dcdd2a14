"""Selective Synaptic Dampening (Foster, Schoepf & Brintrup, AAAI 2024): dampen what the forget set needs most.

The diagonal Fisher information of every weight (and bias) on the forget set and on the full
training set (:func:`fisher_diagonal`, :func:`fisher_diagonal_biases`); where the forget set's
exceeds ``alpha`` times the full set's, the weight is multiplied by
``min(lam I_full / I_forget, 1)`` (:func:`ssd_factors`, :func:`ssd`). Ranked once by k instead of
a threshold, it is one of the methods of :class:`~sparana_lite.forget.Forgetter`.
"""
import numpy as np
import scipy.sparse as sp

from .. import _validate as V
from ..convert import with_weights

__all__ = ["fisher_diagonal", "fisher_diagonal_biases", "ssd_factors", "ssd"]


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
    edited = with_weights(model, weights)
    if beta_b is not None:
        for i, (layer, f) in enumerate(zip(edited.layers, beta_b)):
            if i in chosen:
                changed += int(np.count_nonzero((f < 1) & (layer.b != 0)))
                layer.b[...] = (layer.b * f.astype(np.float32)).astype(layer.b.dtype)
    return edited, changed


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
