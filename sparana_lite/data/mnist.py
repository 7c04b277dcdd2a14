"""MNIST and Fashion-MNIST: what each data set is (classes, mirrors, hashes) and its loader.

A load finds the four IDX files (:mod:`.download`), reads the parsed-array cache
(:mod:`.cache`) or else verifies and parses the files (:mod:`.idx`), and returns a read-only
:class:`~sparana_lite.data.Dataset`; a later load in the same process with unchanged files
returns the same arrays.
"""
import dataclasses

import numpy as np

from .cache import _fingerprint, _parsed_cache_path, _read_parsed_cache, _write_parsed_cache
from .dataset import Dataset
from .download import _locate
from .idx import _FILES, _IMAGES_MAGIC, _read_sources

__all__ = ["load_fashion_mnist", "load_mnist"]


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
