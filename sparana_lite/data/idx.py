"""IDX files, MNIST's format: the four files, decompressing, hashing, and parsing them strictly.

A file is read whole, decompressed if it is gzip, hashed (sha256 of the decompressed bytes,
checked against the data set's table where one is known), and parsed: magic number, item count,
28x28 images and the exact length, else a :class:`DataIntegrityError` that names the file.
"""
import gzip
import hashlib
import struct
import zlib
from typing import NamedTuple

import numpy as np

N_PIXELS = 28 * 28
_IMAGES_MAGIC = 2051
_LABELS_MAGIC = 2049
_GZIP_MAGIC = b"\x1f\x8b"


class DataIntegrityError(ValueError):
    """A data file exists but is corrupt, truncated or not the expected file."""


class _IdxFile(NamedTuple):
    key: str
    stem: str
    magic: int
    count: int

    @property
    def n_bytes(self):
        """Length of the decompressed file: header + payload."""
        if self.magic == _IMAGES_MAGIC:
            return 16 + self.count * N_PIXELS
        return 8 + self.count

    @property
    def shape(self):
        return (self.count, N_PIXELS) if self.magic == _IMAGES_MAGIC else (self.count,)


# Smallest first, so that a bad file is reported before the large ones are read.
_FILES = (
    _IdxFile("y_test", "t10k-labels-idx1-ubyte", _LABELS_MAGIC, 10_000),
    _IdxFile("y_train", "train-labels-idx1-ubyte", _LABELS_MAGIC, 60_000),
    _IdxFile("x_test", "t10k-images-idx3-ubyte", _IMAGES_MAGIC, 10_000),
    _IdxFile("x_train", "train-images-idx3-ubyte", _IMAGES_MAGIC, 60_000),
)


def _advice(path):
    return (f" Delete {path} and run again (with network access it is downloaded again into "
            f"the cache), or replace it with a good copy.")


def _expected_hash_text(spec, f):
    if spec.sha256 is None:
        return f"expected {f.n_bytes} bytes once decompressed"
    return f"expected sha256 {spec.sha256[f.stem]} of the decompressed bytes"


def _decompress_and_verify(spec, f, path, data, hint=None):
    """(decompressed bytes, their sha256) of ``data``, the contents of ``path``, checked against
    the hash table; ``hint`` (default: delete and re-download) ends the error messages."""
    hint = _advice(path) if hint is None else hint
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataIntegrityError(
                f"{path} is not a complete, valid gzip file ({exc}); "
                f"{_expected_hash_text(spec, f)}.{hint}") from exc
    found = hashlib.sha256(data).hexdigest()
    if spec.sha256 is not None and found != spec.sha256[f.stem]:
        raise DataIntegrityError(
            f"{path} is corrupt, truncated or not the {spec.title} file {f.stem}: the sha256 of "
            f"its decompressed bytes is {found}, expected {spec.sha256[f.stem]} "
            f"({len(data)} bytes, expected {f.n_bytes}).{hint}")
    return data, found


def _parse_idx(f, path, data):
    """Pixels (uint8, (n, 784)) or labels (uint8, (n,)) from the decompressed IDX bytes."""
    images = f.magic == _IMAGES_MAGIC
    header = 16 if images else 8
    problem = None
    if len(data) < header:
        problem = f"it has {len(data)} bytes, shorter than the {header}-byte IDX header"
    else:
        magic, count = struct.unpack(">II", data[:8])
        dims = struct.unpack(">II", data[8:16]) if images else ()
        if magic != f.magic:
            problem = f"its IDX magic number is {magic}, expected {f.magic}"
        elif count != f.count:
            problem = f"its header says {count} items, expected {f.count}"
        elif images and dims != (28, 28):
            problem = f"its header says {dims[0]}x{dims[1]} images, expected 28x28"
        elif len(data) != f.n_bytes:
            problem = (f"it has {len(data)} bytes once decompressed, expected {f.n_bytes} from "
                       f"its header (truncated or padded)")
    if problem is None:
        arr = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(f.shape)
        if not images and arr.max() > 9:
            problem = f"it holds label {arr.max()}, expected labels in [0, 9]"
    if problem is not None:
        raise DataIntegrityError(f"{path} is not a valid {f.stem} file: {problem}.{_advice(path)}")
    return arr


def _read_sources(spec, files):
    """Verify and parse the four IDX files: ({key: uint8 array}, {stem: sha256 of decompressed})."""
    arrays, hashes = {}, {}
    for f in _FILES:
        path = files[f.stem]
        data, hashes[f.stem] = _decompress_and_verify(spec, f, path, path.read_bytes())
        arrays[f.key] = _parse_idx(f, path, data)
    return arrays, hashes
