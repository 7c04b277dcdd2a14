"""Shared test fixtures: the data folder default and a per-test cache folder.

Where no NVIDIA GPU is present, the CUDA tests run in numba's CUDA simulator: it is switched
on here, before numba is first imported (it reads NUMBA_ENABLE_CUDASIM once, at import). An
explicit NUMBA_ENABLE_CUDASIM in the environment wins.
"""
import os
from pathlib import Path
import shutil

import pytest

if "NUMBA_ENABLE_CUDASIM" not in os.environ and not (
        Path("/dev/nvidiactl").exists() or shutil.which("nvidia-smi")):
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

_SHARED_DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()


@pytest.fixture(autouse=True, scope="session")
def _default_data_dir():
    """Point SPARANA_LITE_DATA at ../shared/data when the environment does not set it."""
    if os.environ.get("SPARANA_LITE_DATA"):
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPARANA_LITE_DATA", str(_SHARED_DATA))
        yield


@pytest.fixture(autouse=True)
def _environment_unchanged():
    """Fail a test that leaves ``os.environ`` changed (monkeypatch's changes are undone before
    this runs). The notebooks run after the tests, each in a kernel that inherits this
    process's environment: a leaked ``OPENBLAS_NUM_THREADS=1`` (a Dask nanny sets it) once made
    every chapter's BLAS run on one thread."""
    before = dict(os.environ)
    yield
    changed = sorted(k for k in set(before) | set(os.environ)
                     if before.get(k) != os.environ.get(k) and k != "PYTEST_CURRENT_TEST")
    assert not changed, f"the test left these environment variables changed: {changed}"


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty cache folder for this test, set as SPARANA_LITE_CACHE."""
    path = tmp_path / "cache"
    path.mkdir()
    monkeypatch.setenv("SPARANA_LITE_CACHE", str(path))
    return path


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST (from SPARANA_LITE_DATA)."""
    import sparana_lite as sl
    return sl.load_mnist()


@pytest.fixture(scope="session")
def small_mnist(mnist):
    """2,000 training and 1,000 test images: enough to train a small model in a second."""
    return mnist.subset(n_train=2000, n_test=1000)
