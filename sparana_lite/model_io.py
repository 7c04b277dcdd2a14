"""Saving and loading an MLP: one .npz file, no pickle, written atomically, checked when read.

The file holds a JSON ``meta`` entry (format, version, head, activation, seed, widths, storage
and metadata) and, per layer ``i``, ``b{i}`` and either ``W{i}`` (dense; ``M{i}`` for a mask) or
``W{i}_data``, ``W{i}_indices``, ``W{i}_indptr`` (CSR). :meth:`sparana_lite.MLP.save` and
:meth:`sparana_lite.MLP.load` call the two functions here.
"""
import json
from pathlib import Path
import zipfile

import numpy as np
import scipy.sparse as sp

from ._checks import mlp_spec
from ._io import atomic_save_npz
from .layers import CSRLayer, DenseLayer

FORMAT = "sparana_lite.MLP"
FORMAT_VERSION = 1


def save(model, path):
    """Write ``model`` to ``path`` (.npz, no pickle), atomically. Returns the path."""
    model._require_cpu("save")
    path = Path(path)
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "head": model.head,
            "activation": model.activation, "seed": model.seed, "widths": model.widths,
            "sparse": model.is_sparse, "masked": [l.mask is not None for l in model.layers],
            "metadata": model.metadata}
    arrays = {"meta": np.array(json.dumps(meta))}
    for i, layer in enumerate(model.layers):
        arrays[f"b{i}"] = layer.b
        if layer.sparse:
            arrays[f"W{i}_data"] = layer.W.data
            arrays[f"W{i}_indices"] = layer.W.indices
            arrays[f"W{i}_indptr"] = layer.W.indptr
        else:
            arrays[f"W{i}"] = layer.W
            if layer.mask is not None:
                arrays[f"M{i}"] = layer.mask
    return atomic_save_npz(path, **arrays)


def load(path, cls):
    """Read a model written by :func:`save`, as a ``cls`` (:class:`sparana_lite.MLP`). Refuses
    pickled content and malformed files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no model file at {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise ValueError(f"path: {path} holds pickled objects; sparana_lite model files "
                             "never do, so it is refused (loading pickles can run code)") from e
        raise ValueError(f"path: {path} is not a sparana_lite model file ({e})") from e
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f"path: {path} is not a readable .npz model file ({e})") from e
    try:
        return _from_arrays(cls, arrays)
    except (KeyError, TypeError, ValueError, _Malformed) as e:
        raise ValueError(f"path: {path} is not a valid sparana_lite model file: {e!r}") from e


def _from_arrays(cls, arrays):
    meta = json.loads(str(arrays["meta"]))
    _require(meta.get("format") == FORMAT, f"format is {meta.get('format')!r}, expected {FORMAT!r}")
    if meta["version"] > FORMAT_VERSION:
        raise ValueError(f"model file format version {meta['version']} is newer than this "
                         f"sparana_lite reads ({FORMAT_VERSION}); upgrade sparana_lite")
    widths = meta["widths"]
    mlp_spec(meta["head"], meta["activation"], meta["seed"], meta["metadata"])  # before the arrays
    layers = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        b = arrays[f"b{i}"]
        _require(b.shape == (n_out,), f"b{i} has shape {b.shape}, expected {(n_out,)}")
        if meta["sparse"][i]:
            W = sp.csr_matrix((arrays[f"W{i}_data"], arrays[f"W{i}_indices"], arrays[f"W{i}_indptr"]),
                              shape=(n_in, n_out))
            W.check_format(full_check=True)
            layers.append(CSRLayer(W, b))
        else:
            W = arrays[f"W{i}"]
            _require(W.shape == (n_in, n_out), f"W{i} has shape {W.shape}, expected {(n_in, n_out)}")
            mask = arrays[f"M{i}"] if meta["masked"][i] else None
            _require(mask is None or mask.shape == W.shape, f"M{i} has shape {getattr(mask, 'shape', None)}")
            layers.append(DenseLayer(W, b, mask))
    for layer in layers:
        W = layer.W.data if layer.sparse else layer.W
        _require(np.isfinite(W).all() and np.isfinite(layer.b).all(), "weights hold NaN or inf")
    return cls.from_layers(layers, meta["head"], meta["activation"], meta["seed"], meta["metadata"])


class _Malformed(Exception):
    """A model file whose content is inconsistent."""


def _require(condition, message):
    if not condition:
        raise _Malformed(message)
