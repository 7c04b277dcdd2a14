"""MNIST and Fashion-MNIST: find, download, verify, parse and cache them; one-hot labels; class splits.

Where :func:`load_mnist` / :func:`load_fashion_mnist` look for the four IDX files (each ``.gz`` or
raw), in order:

1. the ``data_dir`` argument (its ``mnist/`` or ``fashion_mnist/`` sub-folder, or the folder
   itself), else ``$SPARANA_LITE_DATA/mnist/`` (resp. ``fashion_mnist/``);
2. the per-user cache, ``cache_dir()/data/mnist/``;
3. if none holds all four files and ``download=True``: public mirrors, into that cache folder.

MNIST files are verified by the sha256 of their decompressed bytes. For Fashion-MNIST we know
no such hashes: downloaded ``.gz`` files are checked against the MD5 sums published in the
Fashion-MNIST README (sums of the ``.gz`` files as distributed), and every file, local or
downloaded, goes through the strict IDX header and length checks.

The first load writes the parsed pixels (uint8) to ``cache_dir()/data/<name>-parsed-v1.npz``,
with the source files' paths, sizes and mtimes and the sha256 of their decompressed bytes.
Later loads read that file while the source files keep their paths, sizes and mtimes (a source
file changed in place without changing either is not noticed) and the cached arrays still hash
to the stored sha256 values (for MNIST, the known ones); otherwise they parse the sources again.
"""
import dataclasses
import gzip
import hashlib
import json
import numbers
import os
import struct
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._io import atomic_save_npz
from .._checks import as_labels, positive_int
from ..paths import cache_dir
from ..paths import data_dir as _env_data_dir

__all__ = [
    "ClassSplit",
    "DataIntegrityError",
    "DataNotFoundError",
    "Dataset",
    "class_split",
    "load_fashion_mnist",
    "load_mnist",
    "one_hot",
]

N_PIXELS = 28 * 28
_IMAGES_MAGIC = 2051
_LABELS_MAGIC = 2049
_CACHE_FORMAT = "v1"
_GZIP_MAGIC = b"\x1f\x8b"


class DataNotFoundError(FileNotFoundError):
    """The data files are in none of the folders searched and could not be downloaded."""


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


@dataclasses.dataclass(frozen=True)
class _Spec:
    name: str
    title: str
    classes: tuple
    mirrors: tuple
    sha256: dict = None
    gz_md5: dict = None


_MNIST = _Spec(
    name="mnist",
    title="MNIST",
    classes=tuple(str(i) for i in range(10)),
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    sha256={  # of the decompressed files (../shared/data/README.md)
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
)

_FASHION_MNIST = _Spec(
    name="fashion_mnist",
    title="Fashion-MNIST",
    classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
             "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    # MD5 of the .gz files as distributed (Fashion-MNIST README); checked on downloads only,
    # since a local copy may have been re-compressed.
    gz_md5={
        "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
    },
)

# name -> (source fingerprint, Dataset): the latest load of each data set in this process.
_MEMO = {}


# --------------------------------------------------------------------------------------------
# Public data structures
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------

def load_mnist(data_dir=None, cache=True, download=True):
    """Load MNIST (LeCun, Cortes, Burges): 60,000 training and 10,000 test digits, 28x28.

    Parameters
    ----------
    data_dir : str or path-like, optional
        Folder holding ``mnist/`` (or the four IDX files themselves). Default:
        ``$SPARANA_LITE_DATA``. The per-user cache is searched after it.
    cache : bool
        Use (and write) the parsed cache ``cache_dir()/data/mnist-parsed-v1.npz`` and reuse the
        arrays of an earlier call in this process. False always parses and verifies the files.
    download : bool
        Download missing files into ``cache_dir()/data/mnist/`` when no folder has them.

    Returns
    -------
    Dataset
        ``x_*``: float32 (n, 784) in [0, 1]; ``y_*``: int64 (n,). The arrays are read-only.

    Raises
    ------
    DataNotFoundError
        The files are in none of the folders searched and could not be downloaded.
    DataIntegrityError
        A file's hash, IDX header or length is wrong; the message names the file.
    """
    return _load(_MNIST, data_dir, cache, download)


def load_fashion_mnist(data_dir=None, cache=True, download=True):
    """Load Fashion-MNIST (Xiao, Rasul, Vollgraf): 60,000 training and 10,000 test images, 28x28.

    Same parameters, result and errors as :func:`load_mnist`, with ``fashion_mnist`` in place
    of ``mnist`` in folder and cache names.
    """
    return _load(_FASHION_MNIST, data_dir, cache, download)


def _load(spec, data_dir, cache, download):
    for name, value in (("cache", cache), ("download", download)):
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be True or False; got {value!r}")
    files = _locate(spec, data_dir, download)
    fingerprint = _fingerprint(files)
    if cache:
        memo = _MEMO.get(spec.name)
        if memo is not None and memo[0] == fingerprint:
            return memo[1]
    arrays = _read_parsed_cache(_parsed_cache_path(spec), fingerprint, spec) if cache else None
    if arrays is None:
        arrays, hashes = _read_sources(spec, files)
        if cache:
            _write_parsed_cache(_parsed_cache_path(spec), arrays, fingerprint, hashes)
    ds = _to_dataset(spec, arrays)
    if cache:
        _MEMO[spec.name] = (fingerprint, ds)
    return ds


def _to_dataset(spec, arrays):
    out = {}
    for f in _FILES:
        a = arrays[f.key]
        if f.magic == _IMAGES_MAGIC:
            a = a.astype(np.float32)
            a /= np.float32(255)
        else:
            a = a.astype(np.int64)
        a.flags.writeable = False
        out[f.key] = a
    return Dataset(name=spec.name, classes=spec.classes, **out)


# ---- finding and downloading ----------------------------------------------------------------

def _download_dir(spec):
    return cache_dir() / "data" / spec.name


def _search_dirs(spec, data_dir):
    if data_dir is not None:
        root = Path(os.fspath(data_dir)).expanduser().resolve()
        dirs = [root / spec.name, root]
    else:
        env = _env_data_dir()
        dirs = [env / spec.name] if env is not None else []
    dirs.append(_download_dir(spec))
    return list(dict.fromkeys(dirs))


def _find_in(folder):
    """The IDX files present in ``folder``: {stem: path}, raw preferred over .gz."""
    found = {}
    for f in _FILES:
        for path in (folder / f.stem, folder / (f.stem + ".gz")):
            if path.is_file():
                found[f.stem] = path
                break
    return found


def _locate(spec, data_dir, download):
    """Paths of the four IDX files, {stem: path}, all from one folder; download if needed."""
    searched = []
    for folder in _search_dirs(spec, data_dir):
        found = _find_in(folder)
        if len(found) == len(_FILES):
            return found
        searched.append((folder, found))
    if not download:
        raise DataNotFoundError(_not_found_message(
            spec, searched, "Downloading was disabled (download=False)."))
    target = _download_dir(spec)
    _download_missing(spec, target, searched)
    return _find_in(target)


def _not_found_message(spec, searched, reason):
    wanted = ", ".join(f"{f.stem}[.gz]" for f in reversed(_FILES))
    lines = [f"{spec.title} data not found. Looked for {wanted} in:"]
    for folder, found in searched:
        if not folder.is_dir():
            lines.append(f"  - {folder}  (folder does not exist)")
        else:
            missing = ", ".join(f.stem for f in reversed(_FILES) if f.stem not in found)
            lines.append(f"  - {folder}  (missing: {missing})")
    lines.append(reason)
    lines.append(
        f"To fix: set SPARANA_LITE_DATA to a folder holding {spec.name}/ with these files "
        f"(.gz or raw), or pass data_dir=..., or run once with network access to download them "
        f"into {_download_dir(spec)}.")
    return "\n".join(lines)


def _download(url, dest):
    """Download ``url`` into the file ``dest`` (HTTP GET, progress bar on stderr)."""
    import pooch

    pooch.HTTPDownloader(progressbar=True, chunk_size=1 << 16, timeout=60)(url, str(dest), None)


def _download_missing(spec, target, searched):
    """Download into ``target`` each IDX file it lacks, trying the mirrors in order."""
    target.mkdir(parents=True, exist_ok=True)
    present = _find_in(target)
    for f in _FILES:
        if f.stem in present:
            continue
        failures, integrity_error, last_exc = [], None, None
        for mirror in spec.mirrors:
            url = mirror + f.stem + ".gz"
            partial = target / (f.stem + ".gz.download")
            try:
                _download(url, partial)
                final = _check_download(spec, f, partial, url)
                os.replace(partial, final)
                break
            except DataIntegrityError as exc:
                integrity_error = exc
                failures.append(str(exc))
            except Exception as exc:  # network and HTTP errors of any kind: try the next mirror
                last_exc = exc
                failures.append(f"{url}: {type(exc).__name__}: {exc}")
            finally:
                if partial.exists():
                    partial.unlink()
        else:
            if integrity_error is not None:
                raise DataIntegrityError(
                    f"Every download of {f.stem} failed verification:\n  "
                    + "\n  ".join(failures)
                    + f"\nNothing was kept. Try again later, or put good copies of the files "
                      f"into {target}.") from integrity_error
            raise DataNotFoundError(_not_found_message(
                spec, searched, "Downloading failed:\n  " + "\n  ".join(failures))) from last_exc


def _check_download(spec, f, partial, url):
    """Verify a fresh download; return the path it should be renamed to."""
    data = partial.read_bytes()
    compressed = data[:2] == _GZIP_MAGIC
    if compressed and spec.gz_md5 is not None:
        found = hashlib.md5(data, usedforsecurity=False).hexdigest()
        expected = spec.gz_md5[f.stem]
        if found != expected:
            raise DataIntegrityError(f"{url}: md5 of the downloaded .gz is {found}, expected {expected}")
    if spec.sha256 is not None:
        _decompress_and_verify(spec, f, url, data, hint="")
    # A server that sets Content-Encoding: gzip sends the file decompressed: keep it raw then
    # (for Fashion-MNIST only the IDX checks at load time apply to it).
    return partial.with_name(f.stem + ".gz" if compressed else f.stem)


# ---- reading and verifying ------------------------------------------------------------------

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


# ---- parsed cache ---------------------------------------------------------------------------

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
