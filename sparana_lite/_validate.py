"""Input checks at the public boundary: the plain ones of :mod:`._checks`, and that a model is an MLP.

Modules above the model import this one as ``V`` (``V.mlp(model)``, ``V.as_labels(...)``);
the model itself, and what it is built from, use :mod:`._checks`, so nothing imports back.
"""
from ._checks import (as_float32_matrix, as_labels, bool_mask, finite_float,  # noqa: F401
                      positive_int, seed_int)
from .model import MLP


def mlp(model, name="model"):
    """Check that `model` is a sparana_lite.MLP; return it."""
    if not isinstance(model, MLP):
        raise TypeError(f"{name} must be a sparana_lite.MLP; got {type(model).__name__}")
    return model
