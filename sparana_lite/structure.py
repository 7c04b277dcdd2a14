"""Removing activations: delete hidden neurons that pruning has cut off, exactly.

Hidden neuron j of layer i (column j of ``W_i``, row j of ``W_{i+1}``) can go when

    W_i[:, j] == 0      no incoming weights: it always outputs the constant act(b_i[j]),
                        so   b_{i+1} += act(b_i[j]) * W_{i+1}[j, :]   keeps the outputs; or
    W_{i+1}[j, :] == 0  no outgoing weights: it contributes nothing.

Deleting a row of ``W_{i+1}`` can leave a neuron of layer i+1 without incoming weights, and
deleting a column of ``W_i`` a neuron of layer i-1 without outgoing ones, so the removal repeats
until nothing changes. Input features and output classes are never removed.
"""
import numpy as np
import scipy.sparse as sp

from . import _validate as V
from .layers import CSRLayer, DenseLayer
from .model import MLP

__all__ = ["remove_activations"]

_ACT = {  # float64 NumPy versions of the hidden activations, for the constant act(b)
    "relu": lambda z: np.maximum(z, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "linear": lambda z: z,
}


def remove_activations(model):
    """A new, smaller model without the hidden neurons whose incoming or outgoing weights are all
    zero; its outputs equal the model's (to float32 rounding).

    Parameters
    ----------
    model : MLP
        Dense, CSR or mixed; left unchanged. Dense masks are sliced along; CSR layers stay CSR.

    Returns
    -------
    MLP
        ``widths`` shrink by the neurons removed. ``metadata["removed_activations"]`` lists, per
        hidden layer (``len(widths) - 2`` lists), the sorted indices of the removed neurons in
        ``model`` (the argument). A hidden layer may end up with width 0 (then the next layer's
        outputs are the constant folded into its bias).
    """
    V.mlp(model)
    model._require_cpu("remove_activations")
    act = _ACT[model.activation]
    # Working copies: W (ndarray or CSR), b (float64), mask (ndarray or None) per layer.
    Ws = [layer.W.copy() for layer in model.layers]
    for W in Ws:
        if sp.issparse(W):
            W.eliminate_zeros()
    bs = [layer.b.astype(np.float64) for layer in model.layers]
    masks = [None if layer.mask is None else layer.mask.copy() for layer in model.layers]
    alive = [np.arange(n) for n in model.widths[1:-1]]  # original indices still present
    removed = [[] for _ in alive]

    changed = True
    while changed:
        changed = False
        for i in range(len(alive)):  # hidden layer i: the outputs of W_i, the inputs of W_{i+1}
            no_in = _count_nonzero(Ws[i], axis=0) == 0
            no_out = _count_nonzero(Ws[i + 1], axis=1) == 0
            drop = no_in | no_out
            if not drop.any():
                continue
            changed = True
            fold = np.flatnonzero(no_in & ~no_out)
            if fold.size:  # constant outputs act(b_j) times their outgoing rows
                rows = _dense_rows(Ws[i + 1], fold)
                bs[i + 1] = bs[i + 1] + act(bs[i][fold]) @ rows
            keep = np.flatnonzero(~drop)
            Ws[i] = Ws[i][:, keep]
            bs[i] = bs[i][keep]
            masks[i] = None if masks[i] is None else masks[i][:, keep]
            Ws[i + 1] = Ws[i + 1][keep, :]
            masks[i + 1] = None if masks[i + 1] is None else masks[i + 1][keep, :]
            removed[i].extend(int(j) for j in alive[i][drop])
            alive[i] = alive[i][keep]

    layers = [CSRLayer(W, b) if old.sparse else DenseLayer(W, b, m)
              for old, W, b, m in zip(model.layers, Ws, bs, masks)]
    metadata = dict(model.metadata)
    metadata["removed_activations"] = [sorted(r) for r in removed]
    return MLP.from_layers(layers, model.head, model.activation, model.seed, metadata)


def _count_nonzero(W, axis):
    """Nonzero weights per column (axis=0) or per row (axis=1) of a dense or CSR matrix."""
    if sp.issparse(W):
        return np.asarray((W != 0).sum(axis=axis)).ravel()
    return np.count_nonzero(W, axis=axis)


def _dense_rows(W, rows):
    """Rows of W as a float64 dense array (len(rows), n_out)."""
    R = W[rows, :]
    return (R.toarray() if sp.issparse(R) else R).astype(np.float64)
