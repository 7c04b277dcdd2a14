"""Checks of plain inputs (arrays, labels, numbers, masks, an MLP's spec); each error names the argument.

Each check returns the value it accepted, converted where that is stated (a float32 matrix,
int64 labels); an error names the argument and says what was expected. The check that an
argument is an MLP is :func:`sparana_lite._validate.mlp`, above the model.
"""
import copy
import numbers

import numpy as np

from .heads import HEADS, _unknown_head
from .kernels.dense import ACTIVATIONS


def as_float32_matrix(x, name, n_features=None, allow_nan=False):
    """Return `x` as a C-contiguous float32 array of shape (n, n_features)."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features); got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise TypeError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"{name} must have {n_features} features (columns); got {arr.shape[1]}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not allow_nan and not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def as_labels(y, name, n_classes, n_samples=None):
    """Return integer labels in [0, n_classes) as an int64 vector."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of integer class labels; got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(arr == np.round(arr)):
            raise TypeError(f"{name} must hold integer class labels; got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValueError(f"{name} has {arr.shape[0]} labels but x has {n_samples} samples; they must match")
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(f"{name} must hold labels in [0, {n_classes - 1}]; got values in "
                         f"[{arr.min()}, {arr.max()}]")
    return arr


def positive_int(value, name, allow_none=False, minimum=1):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(value)


def finite_float(value, name, low=None, high=None, low_open=False, high_open=False):
    """Check a scalar hyperparameter lies in [low, high] (or the open ends asked for)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value!r}")
    value = float(value)
    below = low is not None and (value <= low if low_open else value < low)
    above = high is not None and (value >= high if high_open else value > high)
    if below or above:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        interval = f"{'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"
        raise ValueError(f"{name} must lie in {interval}; got {value!r}")
    return value


def seed_int(seed, name="seed"):
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {seed!r}")
    return int(seed)


def bool_mask(mask, name, shape):
    """Check that `mask` is a bool array of `shape` (a float or int array is refused, not cast:
    casting would turn every nonzero weight into True); return it as an ndarray."""
    arr = np.asarray(mask)
    if arr.dtype != np.bool_ or arr.shape != tuple(shape):
        raise ValueError(f"{name} must be a bool array of shape {tuple(shape)}; got {arr.dtype} {arr.shape}")
    return arr


def mlp_spec(head, activation, seed, metadata):
    """The checks every way of making an MLP shares (constructor, from_layers, load)."""
    if head not in HEADS:
        raise _unknown_head(head)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}; got {activation!r}")
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict or None; got {type(metadata).__name__}")
    return head, activation, seed_int(seed), copy.deepcopy(metadata or {})
