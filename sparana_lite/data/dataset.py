"""Labelled images in memory: the Dataset, one-hot labels, and a class split for forgetting."""
import dataclasses
import numbers
from typing import NamedTuple

import numpy as np

from .._checks import as_labels, positive_int

__all__ = ["ClassSplit", "Dataset", "class_split", "one_hot"]


@dataclasses.dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class Dataset:
    """A labelled image data set split into training and test samples.

    Attributes
    ----------
    name : str
        ``"mnist"`` or ``"fashion_mnist"``.
    classes : tuple of str
        Class names; label ``k`` means ``classes[k]``.
    x_train, x_test : ndarray, float32, shape (n, 784)
        C-contiguous images, one row per sample, pixel values / 255 in [0, 1].
    y_train, y_test : ndarray, int64, shape (n,)
        Labels in [0, n_classes).

    Notes
    -----
    Arrays returned by the loaders are read-only, because repeated loads in one process share
    them. Take ``.copy()`` of an array to modify it.
    """

    name: str
    classes: tuple
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise TypeError(f"name must be a str; got {self.name!r}")
        classes = tuple(self.classes)
        if not classes or not all(isinstance(c, str) for c in classes):
            raise ValueError(f"classes must be a non-empty sequence of str; got {self.classes!r}")
        object.__setattr__(self, "classes", classes)
        for split in ("train", "test"):
            _check_split(getattr(self, f"x_{split}"), getattr(self, f"y_{split}"), split, len(classes))
        if self.x_train.shape[1] != self.x_test.shape[1]:
            raise ValueError(f"x_train and x_test must have the same number of features; got "
                             f"{self.x_train.shape[1]} and {self.x_test.shape[1]}")

    @property
    def n_classes(self):
        """Number of classes, ``len(classes)``."""
        return len(self.classes)

    def __repr__(self):
        return (f"Dataset(name={self.name!r}, n_classes={self.n_classes}, "
                f"x_train={self.x_train.shape}, y_train={self.y_train.shape}, "
                f"x_test={self.x_test.shape}, y_test={self.y_test.shape})")

    def subset(self, n_train=None, n_test=None):
        """The first samples of each split (views, no copy).

        Parameters
        ----------
        n_train, n_test : int, optional
            Number of samples to keep, in [1, size of the split]; None keeps the whole split.

        Returns
        -------
        Dataset
        """
        n_train = _subset_size(n_train, "n_train", len(self.y_train))
        n_test = _subset_size(n_test, "n_test", len(self.y_test))
        return dataclasses.replace(
            self, x_train=self.x_train[:n_train], y_train=self.y_train[:n_train],
            x_test=self.x_test[:n_test], y_test=self.y_test[:n_test])


def _check_split(x, y, split, n_classes):
    xn, yn = f"x_{split}", f"y_{split}"
    if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.ndim != 2 or not x.flags.c_contiguous:
        raise ValueError(f"{xn} must be a C-contiguous float32 array of shape (n, n_features); got "
                         f"{type(x).__name__} {getattr(x, 'dtype', '')} {getattr(x, 'shape', '')}")
    if not isinstance(y, np.ndarray) or y.dtype != np.int64 or y.ndim != 1:
        raise ValueError(f"{yn} must be an int64 array of shape (n,); got "
                         f"{type(y).__name__} {getattr(y, 'dtype', '')} {getattr(y, 'shape', '')}")
    if len(x) != len(y):
        raise ValueError(f"{xn} has {len(x)} samples but {yn} has {len(y)} labels; they must match")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{yn} must hold labels in [0, {n_classes - 1}]; got values in "
                         f"[{y.min()}, {y.max()}]")


def _subset_size(n, name, available):
    n = positive_int(n, name, allow_none=True)
    if n is None:
        return available
    if n > available:
        raise ValueError(f"{name} must be at most {available} (the size of the split); got {n}")
    return n


class ClassSplit(NamedTuple):
    """Samples of one class (target) and of all the others (rest), in their original order."""

    x_target: np.ndarray
    y_target: np.ndarray
    x_rest: np.ndarray
    y_rest: np.ndarray


def one_hot(labels, n_classes=10):
    """One-hot encode class labels.

    Parameters
    ----------
    labels : array_like of int, shape (n,)
        Labels in [0, n_classes).
    n_classes : int
        Number of classes.

    Returns
    -------
    ndarray, float32, shape (n, n_classes)
        ``out[i, labels[i]] = 1``, zeros elsewhere.
    """
    n_classes = positive_int(n_classes, "n_classes")
    labels = as_labels(labels, "labels", n_classes)
    out = np.zeros((labels.shape[0], n_classes), dtype=np.float32)
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


def class_split(x, y, target, n_classes=10):
    """Split samples into those of class ``target`` and all the others (for forgetting).

    Parameters
    ----------
    x : array_like, shape (n, ...)
        Samples, one per row.
    y : array_like of int, shape (n,)
        Labels in [0, n_classes).
    target : int
        The class to separate, in [0, n_classes).
    n_classes : int
        Number of classes.

    Returns
    -------
    ClassSplit
        ``(x_target, y_target, x_rest, y_rest)``: copies of the rows with ``y == target`` and
        of the rows with ``y != target``, in their original order; labels are int64.
    """
    n_classes = positive_int(n_classes, "n_classes")
    if isinstance(target, bool) or not isinstance(target, numbers.Integral) \
            or not 0 <= target < n_classes:
        raise ValueError(f"target must be an integer class label in [0, {n_classes - 1}]; "
                         f"got {target!r}")
    x = np.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"x must be an array of samples (one per row); got a scalar {x!r}")
    y = as_labels(y, "y", n_classes, n_samples=x.shape[0])
    mask = y == target
    rest = ~mask
    return ClassSplit(x[mask], y[mask], x[rest], y[rest])
