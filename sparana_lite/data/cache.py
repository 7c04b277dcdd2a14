"""The parsed-array cache: the pixels once parsed, on disk, trusted while the sources and hashes match.

``cache_dir()/data/<name>-parsed-v1.npz`` holds the uint8 arrays, the source files' paths,
sizes and mtimes (their *fingerprint*) and the sha256 of their decompressed bytes. It is read
while the fingerprint is unchanged and the arrays still hash to the stored values (for MNIST,
the known ones); anything else returns None and the sources are parsed again.
"""
import hashlib
import json
import struct
import warnings
import zipfile
import zlib

import numpy as np

from .._io import atomic_save_npz
from ..paths import cache_dir
from .idx import _FILES, _IMAGES_MAGIC

_CACHE_FORMAT = "v1"


def _fingerprint(files):
    """[[stem, path, size, mtime_ns], ...]: cheap identity of the source files."""
    out = []
    for f in _FILES:
        st = files[f.stem].stat()
        out.append([f.stem, str(files[f.stem]), st.st_size, st.st_mtime_ns])
    return out


def _parsed_cache_path(spec):
    return cache_dir() / "data" / f"{spec.name}-parsed-{_CACHE_FORMAT}.npz"


def _idx_sha256(f, arr):
    """sha256 of the IDX file whose payload is ``arr``: header (magic, count, 28, 28) + bytes."""
    dims = (f.magic, f.count) + ((28, 28) if f.magic == _IMAGES_MAGIC else ())
    h = hashlib.sha256(struct.pack(f">{len(dims)}I", *dims))
    h.update(memoryview(np.ascontiguousarray(arr)))
    return h.hexdigest()


def _read_parsed_cache(path, fingerprint, spec):
    """The uint8 arrays of the parsed cache, or None if it is missing, stale, damaged, or its
    arrays do not hash to the stored sha256 of the verified source files (about 0.1 s)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if json.loads(str(z["sources"])) != fingerprint:
                return None
            hashes = json.loads(str(z["sha256"]))
            arrays = {f.key: z[f.key] for f in _FILES}
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile, zlib.error):
        return None  # missing or damaged (bad zip or CRC, missing key, bad header): rebuilt
    if not isinstance(hashes, dict) or (spec.sha256 is not None and hashes != spec.sha256):
        return None
    for f in _FILES:
        arr = arrays[f.key]
        if arr.dtype != np.uint8 or arr.shape != f.shape or hashes.get(f.stem) != _idx_sha256(f, arr):
            return None
    return arrays


def _write_parsed_cache(path, arrays, fingerprint, hashes):
    try:
        atomic_save_npz(path, sources=np.array(json.dumps(fingerprint)),
                        sha256=np.array(json.dumps(hashes)), **arrays)
    except OSError as exc:
        warnings.warn(f"could not write the parsed-data cache {path} ({exc}); the IDX files "
                      f"will be parsed again on every load", RuntimeWarning, stacklevel=4)
