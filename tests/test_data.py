"""Tests for sparana_lite.data. No network: every download goes through a patched `_download`."""
import gzip
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

# the package's modules, where its private names live (and are patched)
from sparana_lite.data import cache as data_cache
from sparana_lite.data import download as data_download
from sparana_lite.data import idx as data_idx
from sparana_lite.data import mnist as data_mnist
from sparana_lite.data import (ClassSplit, DataIntegrityError, DataNotFoundError, Dataset,
                               class_split, load_fashion_mnist, load_mnist, one_hot)

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


class Offline(ConnectionError):
    pass


def _no_network(url, dest):
    raise Offline(f"network disabled in tests: {url}")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    """No downloads, and an empty in-process memo, in every test."""
    monkeypatch.setattr(data_download, "_download", _no_network)
    monkeypatch.setattr(data_mnist, "_MEMO", {})


@pytest.fixture(scope="session")
def real_dir():
    path = Path(os.environ["SPARANA_LITE_DATA"]) / "mnist"
    if not all((path / (s + ".gz")).is_file() for s in STEMS):
        pytest.fail(f"real MNIST not found in {path}: set SPARANA_LITE_DATA to the folder holding mnist/")
    return path


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("module-cache")


@pytest.fixture(scope="module")
def mnist(real_dir, module_cache):
    """The real MNIST, parsed once for the module (its parsed cache lives in module_cache)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARANA_LITE_CACHE", str(module_cache))
        return load_mnist(download=False)


def _make_dir(tmp_path, real_dir, copies=()):
    """A data dir tmp_path/mnist/ with the real .gz files: symlinks, or copies for `copies`."""
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for stem in STEMS:
        src, dst = real_dir / (stem + ".gz"), folder / (stem + ".gz")
        if stem in copies:
            shutil.copyfile(src, dst)
        else:
            dst.symlink_to(src)
    return folder


# ---- real data ------------------------------------------------------------------------------

def test_real_mnist_shapes_dtypes_ranges_and_names(mnist):
    assert mnist.name == "mnist"
    assert mnist.classes == tuple("0123456789")
    assert mnist.n_classes == 10
    for x, n in ((mnist.x_train, 60_000), (mnist.x_test, 10_000)):
        assert x.shape == (n, 784) and x.dtype == np.float32 and x.flags.c_contiguous
        assert x.min() == 0.0 and x.max() == 1.0
        assert np.array_equal(x[:5000] * 255, np.round(x[:5000] * 255))
    for y, counts in ((mnist.y_train, TRAIN_COUNTS), (mnist.y_test, TEST_COUNTS)):
        assert y.dtype == np.int64 and y.ndim == 1
        assert np.bincount(y, minlength=10).tolist() == counts
    text = repr(mnist)
    assert "mnist" in text and "(60000, 784)" in text and len(text) < 200


def test_memoised_arrays_are_read_only_and_shared(mnist, module_cache, monkeypatch):
    monkeypatch.setenv("SPARANA_LITE_CACHE", str(module_cache))
    first = load_mnist(download=False)
    assert load_mnist(download=False) is first
    for name in ("x_train", "y_train", "x_test", "y_test"):
        arr = getattr(first, name)
        assert not arr.flags.writeable
        with pytest.raises(ValueError):
            arr[0] = 0
    assert np.array_equal(first.x_test, mnist.x_test)


def test_subset_and_dataset_validation(mnist):
    small = mnist.subset(n_train=100, n_test=20)
    assert small.x_train.shape == (100, 784) and small.y_test.shape == (20,)
    assert small.x_train.flags.c_contiguous and not small.x_train.flags.writeable
    assert small.name == "mnist" and small.classes == mnist.classes
    assert mnist.subset(n_test=5).x_train.shape == (60_000, 784)
    for bad in (0, 60_001, 1.5, True):
        with pytest.raises(ValueError, match="n_train"):
            mnist.subset(n_train=bad)
    with pytest.raises(ValueError, match="x_train"):
        Dataset(name="d", classes=("a", "b"), x_train=np.zeros((2, 3)), y_train=np.zeros(2, np.int64),
                x_test=np.zeros((1, 3), np.float32), y_test=np.zeros(1, np.int64))
    with pytest.raises(ValueError, match="y_test"):
        Dataset(name="d", classes=("a", "b"), x_train=np.zeros((2, 3), np.float32),
                y_train=np.zeros(2, np.int64), x_test=np.zeros((1, 3), np.float32),
                y_test=np.array([2]))


def test_raw_files_work_like_gz(tmp_path, real_dir, mnist, tmp_cache):
    folder = _make_dir(tmp_path, real_dir)
    for stem in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (folder / stem).write_bytes(gzip.decompress((real_dir / (stem + ".gz")).read_bytes()))
        (folder / (stem + ".gz")).unlink()
    ds = load_mnist(data_dir=tmp_path / "data", cache=False, download=False)
    assert np.array_equal(ds.x_test, mnist.x_test) and np.array_equal(ds.y_test, mnist.y_test)
    assert np.array_equal(ds.y_train, mnist.y_train)
    assert not any(tmp_cache.rglob("*.npz")), "cache=False must not write the parsed cache"


# ---- corrupt files --------------------------------------------------------------------------

def _truncate(data):
    return data[: len(data) // 2]


def _flip_last_byte(data):
    return data[:-1] + bytes([data[-1] ^ 0x01])


@pytest.mark.parametrize("stem", ["t10k-labels-idx1-ubyte", "t10k-images-idx3-ubyte"])
@pytest.mark.parametrize("damage", [_truncate, _flip_last_byte])
@pytest.mark.parametrize("raw", [True, False], ids=["raw", "gz"])
def test_corrupt_file_names_file_and_expected_hash(tmp_path, real_dir, tmp_cache, stem, damage, raw):
    folder = _make_dir(tmp_path, real_dir)
    gz = (real_dir / (stem + ".gz")).read_bytes()
    (folder / (stem + ".gz")).unlink()
    bad = folder / stem if raw else folder / (stem + ".gz")
    bad.write_bytes(damage(gzip.decompress(gz) if raw else gz))
    with pytest.raises(DataIntegrityError) as info:
        load_mnist(data_dir=tmp_path / "data", download=False)
    message = str(info.value)
    assert str(bad) in message
    assert data_mnist._MNIST.sha256[stem] in message
    assert "Delete" in message


@pytest.mark.parametrize("header, problem", [
    ((2050, 10_000, 28, 28), "magic number is 2050, expected 2051"),
    ((2051, 9_999, 28, 28), "9999 items, expected 10000"),
    ((2051, 10_000, 28, 27), "28x27 images, expected 28x28"),
])
def test_idx_header_checks(tmp_path, header, problem):
    f = data_idx._FILES[2]
    raw = np.array(header, ">u4").tobytes() + bytes(10_000 * 784)
    with pytest.raises(DataIntegrityError, match=problem) as info:
        data_idx._parse_idx(f, tmp_path / "x", raw)
    assert str(tmp_path / "x") in str(info.value)


def test_idx_length_and_label_checks(tmp_path):
    images, labels = data_idx._FILES[2], data_idx._FILES[0]
    header = np.array((2051, 10_000, 28, 28), ">u4").tobytes()
    with pytest.raises(DataIntegrityError, match="truncated or padded"):
        data_idx._parse_idx(images, tmp_path / "x", header + bytes(10_000 * 784 - 1))
    with pytest.raises(DataIntegrityError, match="shorter than the 16-byte IDX header"):
        data_idx._parse_idx(images, tmp_path / "x", header[:10])
    bad_labels = np.array((2049, 10_000), ">u4").tobytes() + bytes([3] * 9_999 + [10])
    with pytest.raises(DataIntegrityError, match="label 10"):
        data_idx._parse_idx(labels, tmp_path / "y", bad_labels)


# ---- missing data and downloads -------------------------------------------------------------

def test_missing_data_without_download(tmp_path, tmp_cache, monkeypatch):
    monkeypatch.setenv("SPARANA_LITE_DATA", str(tmp_path / "nowhere"))
    partial = tmp_cache / "data" / "mnist"
    partial.mkdir(parents=True)
    (partial / "t10k-labels-idx1-ubyte").write_bytes(b"")
    with pytest.raises(DataNotFoundError) as info:
        load_mnist(download=False)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert str(tmp_path / "nowhere" / "mnist") in message and "does not exist" in message
    assert str(partial) in message
    assert "missing: train-images-idx3-ubyte, t10k-images-idx3-ubyte, train-labels-idx1-ubyte)" in message
    assert "SPARANA_LITE_DATA" in message and "download=False" in message


def test_download_failure_ends_in_data_not_found(tmp_path, tmp_cache, monkeypatch):
    monkeypatch.setenv("SPARANA_LITE_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFoundError) as info:
        load_mnist()
    message = str(info.value)
    assert isinstance(info.value.__cause__, Offline)
    assert str(tmp_path / "nowhere" / "mnist") in message
    assert str(tmp_cache / "data" / "mnist") in message
    for mirror in data_mnist._MNIST.mirrors:
        assert mirror + "t10k-labels-idx1-ubyte.gz" in message
    assert not list((tmp_cache / "data" / "mnist").iterdir()), "no partial download left behind"


def test_download_tries_mirrors_in_order(tmp_path, tmp_cache, real_dir, mnist, monkeypatch):
    monkeypatch.setenv("SPARANA_LITE_DATA", str(tmp_path / "nowhere"))
    calls = []

    def fake_download(url, dest):
        calls.append(url)
        if url.startswith(data_mnist._MNIST.mirrors[0]):
            raise Offline(url)
        gz = (real_dir / url.rsplit("/", 1)[1]).read_bytes()
        # labels come back decompressed, as from a server that sets Content-Encoding: gzip
        Path(dest).write_bytes(gzip.decompress(gz) if "labels" in url else gz)

    monkeypatch.setattr(data_download, "_download", fake_download)
    ds = load_mnist(download=True)
    assert np.array_equal(ds.y_test, mnist.y_test) and np.array_equal(ds.x_test, mnist.x_test)
    assert calls[:2] == [m + "t10k-labels-idx1-ubyte.gz" for m in data_mnist._MNIST.mirrors]
    assert sorted(p.name for p in (tmp_cache / "data" / "mnist").iterdir()) == sorted(
        ["train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"])


def test_bad_download_is_rejected_and_removed(tmp_path, tmp_cache, monkeypatch):
    monkeypatch.setenv("SPARANA_LITE_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setattr(data_download, "_download", lambda url, dest: Path(dest).write_bytes(
        gzip.compress(b"not mnist")))
    with pytest.raises(DataIntegrityError, match=data_mnist._MNIST.sha256["t10k-labels-idx1-ubyte"]):
        load_mnist()
    with pytest.raises(DataIntegrityError, match=data_mnist._FASHION_MNIST.gz_md5["t10k-labels-idx1-ubyte"]):
        load_fashion_mnist()
    assert not any(p.is_file() for p in (tmp_cache / "data").rglob("*"))


def test_fashion_mnist_from_local_files(tmp_path, tmp_cache):
    folder = tmp_path / "fashion_mnist"
    folder.mkdir()
    for f in data_idx._FILES:
        header = [f.magic, f.count] + ([28, 28] if f.magic == 2051 else [])
        payload = np.zeros(f.shape, np.uint8)
        payload.reshape(f.count, -1)[:, 0] = np.arange(f.count) % 10
        (folder / f.stem).write_bytes(np.array(header, ">u4").tobytes() + payload.tobytes())
    ds = load_fashion_mnist(data_dir=tmp_path, cache=False, download=False)
    assert ds.name == "fashion_mnist" and ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    assert ds.x_train.shape == (60_000, 784) and ds.y_test[:12].tolist() == [*range(10), 0, 1]
    assert ds.x_test[3, 0] == np.float32(3 / 255)


# ---- parsed cache ---------------------------------------------------------------------------

def test_parsed_cache_is_used_invalidated_and_rebuilt(tmp_path, real_dir, tmp_cache, mnist, monkeypatch):
    folder = _make_dir(tmp_path, real_dir, copies=("t10k-labels-idx1-ubyte",))
    monkeypatch.setenv("SPARANA_LITE_DATA", str(tmp_path / "data"))
    load_mnist(download=False)
    cache_file = tmp_cache / "data" / "mnist-parsed-v1.npz"
    assert cache_file.is_file()

    class Reparsed(Exception):
        pass

    def fail(spec, files):
        raise Reparsed

    read_sources = data_mnist._read_sources
    monkeypatch.setattr(data_mnist, "_read_sources", fail)
    monkeypatch.setattr(data_mnist, "_MEMO", {})
    ds = load_mnist(download=False)
    assert np.array_equal(ds.x_test, mnist.x_test) and np.array_equal(ds.y_train, mnist.y_train)
    assert ds.x_train.dtype == np.float32 and not ds.x_train.flags.writeable

    copied = folder / "t10k-labels-idx1-ubyte.gz"
    st = copied.stat()
    os.utime(copied, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(Reparsed):
        load_mnist(download=False)

    monkeypatch.setattr(data_mnist, "_read_sources", read_sources)
    cache_file.write_bytes(b"PK\x03\x04 this is not a zip file")
    ds = load_mnist(download=False)
    assert np.array_equal(ds.y_test, mnist.y_test)
    with np.load(cache_file, allow_pickle=False) as z:
        assert z["x_train"].dtype == np.uint8 and z["x_train"].shape == (60_000, 784)
        assert data_mnist._MNIST.sha256["train-images-idx3-ubyte"] in str(z["sha256"])


def _rewrite_cache(cache_file, **changes):
    with np.load(cache_file, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    np.savez(cache_file, **arrays)


def test_parsed_cache_is_checked_against_its_stored_hashes(tmp_path, real_dir, tmp_cache, mnist,
                                                            monkeypatch):
    """A parsed cache whose pixels were altered (the source files untouched) is rebuilt, not
    served: its arrays must hash to the stored sha256 of the verified files, and for MNIST the
    stored hashes must be the known ones. Fails if the stored hashes are never checked."""
    _make_dir(tmp_path, real_dir)
    monkeypatch.setenv("SPARANA_LITE_DATA", str(tmp_path / "data"))
    load_mnist(download=False)
    cache_file = tmp_cache / "data" / "mnist-parsed-v1.npz"
    with np.load(cache_file, allow_pickle=False) as z:
        altered = z["x_test"].copy()
        stored = json.loads(str(z["sha256"]))
    altered[0, 300] ^= 0xFF
    _rewrite_cache(cache_file, x_test=altered)
    monkeypatch.setattr(data_mnist, "_MEMO", {})
    assert np.array_equal(load_mnist(download=False).x_test, mnist.x_test)  # rebuilt
    # altered pixels stored with their own (consistent) hash: not MNIST's, so rebuilt too
    header = bytes.fromhex("00000803") + (10_000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    forged = dict(stored, **{"t10k-images-idx3-ubyte":
                             hashlib.sha256(header + altered.tobytes()).hexdigest()})
    _rewrite_cache(cache_file, x_test=altered, sha256=np.array(json.dumps(forged)))
    monkeypatch.setattr(data_mnist, "_MEMO", {})
    assert np.array_equal(load_mnist(download=False).x_test, mnist.x_test)


def test_parsed_cache_errors_other_than_a_damaged_file_are_raised(tmp_path, real_dir, tmp_cache,
                                                                  monkeypatch):
    """Only the errors a missing, corrupt or unreadable cache file raises mean "rebuild it";
    any other error (here a RuntimeError standing for a bug) must surface. Fails if the read
    swallows every exception."""
    _make_dir(tmp_path, real_dir)
    monkeypatch.setenv("SPARANA_LITE_DATA", str(tmp_path / "data"))

    def broken_load(*args, **kwargs):
        raise RuntimeError("a bug, not a damaged file")
    monkeypatch.setattr(data_cache.np, "load", broken_load)
    with pytest.raises(RuntimeError, match="a bug"):
        load_mnist(download=False)


def test_load_argument_checks():
    with pytest.raises(TypeError, match="cache"):
        load_mnist(cache="yes")
    with pytest.raises(TypeError, match="download"):
        load_mnist(download=1)


# ---- one_hot and class_split ----------------------------------------------------------------

def test_one_hot():
    out = one_hot([2, 0, 9])
    assert out.dtype == np.float32 and out.shape == (3, 10)
    assert np.array_equal(out.argmax(axis=1), [2, 0, 9]) and out.sum() == 3
    assert one_hot(np.array([1.0, 0.0]), n_classes=3).tolist() == [[0, 1, 0], [1, 0, 0]]
    assert one_hot(np.zeros(0, np.int64)).shape == (0, 10)
    with pytest.raises(ValueError, match=r"labels must hold labels in \[0, 9\]"):
        one_hot([0, 10])
    with pytest.raises(ValueError, match="labels"):
        one_hot([-1])
    with pytest.raises(ValueError, match="1-D"):
        one_hot([[1]])
    with pytest.raises(TypeError, match="labels"):
        one_hot([0.5])
    with pytest.raises(ValueError, match="n_classes"):
        one_hot([0], n_classes=0)


def test_class_split():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.array([3, 1, 3, 0, 3, 2])
    split = class_split(x, y, 3)
    assert isinstance(split, ClassSplit)
    x_t, y_t, x_r, y_r = split
    assert np.array_equal(x_t, x[[0, 2, 4]]) and y_t.tolist() == [3, 3, 3]
    assert np.array_equal(x_r, x[[1, 3, 5]]) and y_r.tolist() == [1, 0, 2]
    assert y_t.dtype == np.int64 and x_t.flags.c_contiguous
    assert class_split(x, y, 5).x_target.shape == (0, 2)
    assert class_split(x, y, 3, n_classes=4).y_rest.tolist() == [1, 0, 2]


def test_class_split_on_real_data(mnist):
    small = mnist.subset(n_train=1000)
    split = class_split(small.x_train, small.y_train, 7)
    assert len(split.x_target) == np.sum(small.y_train == 7)
    assert len(split.x_target) + len(split.x_rest) == 1000
    assert (split.y_target == 7).all() and (split.y_rest != 7).all()


@pytest.mark.parametrize("target", [10, -1, 1.0, True, "3", None])
def test_class_split_bad_target(target):
    with pytest.raises(ValueError, match=r"target must be an integer class label in \[0, 9\]"):
        class_split(np.zeros((2, 2)), [0, 1], target)


def test_class_split_bad_labels():
    with pytest.raises(ValueError, match="y has 2 labels but x has 3 samples"):
        class_split(np.zeros((3, 2)), [0, 1], 0)
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 9\]"):
        class_split(np.zeros((2, 2)), [0, 12], 0)
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 2\]"):
        class_split(np.zeros((2, 2)), [0, 3], 0, n_classes=3)
