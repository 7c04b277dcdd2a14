"""MNIST and Fashion-MNIST: find, download, verify, parse and cache them; one-hot labels; class splits.

    mnist     the two data sets (classes, mirrors, hashes) and their loaders
    download  the folders searched, and downloads from the mirrors
    idx       the IDX file format: decompress, hash, parse strictly
    cache     the parsed-array cache
    dataset   the Dataset, one-hot labels, class splits

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
from .dataset import ClassSplit, Dataset, class_split, one_hot
from .download import DataNotFoundError
from .idx import N_PIXELS, DataIntegrityError  # noqa: F401 (N_PIXELS: sl.data.N_PIXELS)
from .mnist import load_fashion_mnist, load_mnist

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
