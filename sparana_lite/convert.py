"""Conversions: a new MLP from one, with CSR or dense storage, masks, new weights, or on another device.

The work behind :meth:`MLP.copy <sparana_lite.MLP.copy>`, ``to_sparse``, ``to_dense``,
``with_masks`` and ``to_device`` (see those methods for what each promises), and
:func:`with_weights`, the dense model the forgetting methods edit. The model is left unchanged;
the new one keeps its head, activation, seed and metadata.
"""
import numpy as np

from . import _checks as V
from . import device as D
from .layers import CSRLayer, DenseLayer


def copy(model):
    """A copy of ``model``, every layer copied."""
    model._require_cpu("copy")
    return _rebuild(model, [layer.copy() for layer in model.layers])


def to_sparse(model, layers=None):
    """The chosen layers (default: all) in CSR, their zeros (and masked weights) dropped."""
    model._require_cpu("to_sparse")
    chosen = model._layer_indices(layers)
    new = [CSRLayer(l.dense_weight() if l.mask is None else l.dense_weight() * l.mask, l.b.copy())
           if i in chosen and not l.sparse else l.copy() for i, l in enumerate(model.layers)]
    return _rebuild(model, new)


def to_dense(model):
    """Every layer dense; a former CSR layer gets its pattern as a mask."""
    model._require_cpu("to_dense")
    new = [DenseLayer(l.dense_weight(), l.b.copy(), l.W.toarray() != 0) if l.sparse else l.copy()
           for l in model.layers]
    return _rebuild(model, new)


def with_masks(model, masks):
    """Dense layer i zeroed and frozen where ``masks[i]`` is False (None: unmasked)."""
    model._require_cpu("with_masks")
    if len(masks) != len(model.layers):
        raise ValueError(f"masks must have one entry per layer ({len(model.layers)}); got {len(masks)}")
    new = []
    for i, (layer, mask) in enumerate(zip(model.layers, masks)):
        if mask is None:
            new.append(layer.copy())
            continue
        if layer.sparse:
            raise ValueError(f"masks[{i}]: layer {i} is CSR; its sparsity pattern is its mask")
        mask = V.bool_mask(mask, f"masks[{i}]", layer.shape)
        new.append(DenseLayer(layer.W * mask, layer.b.copy(), mask))
    return _rebuild(model, new)


def to_device(model, device):
    """A copy of ``model`` whose arrays live on ``device`` ("cpu" or "cuda")."""
    dev = D.get(device)
    return _rebuild(model, [layer.to_device(dev) for layer in model.layers])


def with_weights(model, weights):
    """A dense, unmasked model with these weights and the model's biases."""
    layers = [DenseLayer(np.array(W, dtype=np.float32, order="C"), b.copy())
              for W, b in zip(weights, model.biases)]
    return _rebuild(model, layers)


def _rebuild(model, layers):
    """A model of ``model``'s class, head, activation, seed and metadata around ``layers``."""
    return type(model).from_layers(layers, model.head, model.activation, model.seed,
                                   model.metadata)
