"""The two heads, LQ and SCE: their names, and the softmax the SCE head puts on the last layer.

    "lq"  (linear quadratic): output = z_L,               loss = 1/2 sum (output - onehot)^2
    "sce" (softmax cross-entropy): output = softmax(z_L), loss = -sum log softmax(z_L)[label]

The losses, and their error at the last layer, are in :class:`sparana_lite.MLP` (:mod:`.model`).
"""
import numpy as np

HEADS = ("lq", "sce")


def _unknown_head(head):
    return ValueError(f"head must be one of {HEADS}; got {head!r}")


def log_softmax(z):
    """Row-wise log softmax, stable (the maximum is subtracted first). float32 (n, k)."""
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(z):
    """Row-wise softmax, stable. float32 (n, k)."""
    return np.exp(log_softmax(z))
