"""Atomic file writes: write to a temporary file in the same folder, then rename over the target."""
import os
import tempfile
from pathlib import Path

import numpy as np


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _replace(tmp, path):
    """Give the temporary file the usual permissions (mkstemp makes it 0600), then rename."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def _atomic_write(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        _replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_save_npz(path, **arrays):
    """Save arrays to ``path`` (.npz, uncompressed) so that readers never see a half-written file."""
    return _atomic_write(path, lambda f: np.savez(f, **arrays))


def atomic_write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically."""
    return _atomic_write(path, lambda f: f.write(data))
