"""Keep BLAS's thread pool and numba's from fighting over the cores.

A model with CSR hidden layers and a dense output layer alternates numba parallel regions (the
CSR kernels) with BLAS products (``@``). After a product, OpenBLAS's worker threads keep
spinning for about 0.1 s (its THREAD_TIMEOUT) waiting for more work; a numba region started
meanwhile shares a core with that spinner. Measured on the 2-core AMD EPYC dev machine
(1000x1000 layer, batch 256; each ``spmm`` call preceded by the output layer's product
(256x400) @ (400x10), which OpenBLAS runs on 2 threads): ``spmm`` took 5-10 ms at every
sparsity instead of 0.15-4.4 ms alone, 0.07-2.2x scipy's time and 0.3-0.5x dense NumPy's.

:func:`blas_on_calling_thread` limits BLAS to the calling thread while it is active: then no
BLAS worker wakes up, numba's pool has the other cores to itself, and ``spmm`` kept its speed
(2.4-3.5x scipy, faster than dense NumPy from 80% sparsity, as alone). A model with CSR layers
runs its forward and backward passes inside it (see :mod:`sparana_lite.model`); the dense
products in such a model are small, and one thread does them as fast as two.

What else was tried, measured the same way (environment variables set before Python started):
``OMP_WAIT_POLICY=passive`` for numba's OpenMP threads and
numba's ``workqueue`` threading layer (both still fight the spinning BLAS worker: 0.1-2.7x
scipy), shutting OpenBLAS's threads down before each CSR product (0.1-1.5x: recreating them
costs more), limiting BLAS only around the CSR products (no effect: the worker is already
spinning), and serial CSR kernels (1.2-2.1x scipy, below the 2x target).
``OPENBLAS_THREAD_TIMEOUT=4`` fixes it too (2.0-3.3x scipy), but OpenBLAS reads it only when it
loads, before this library could set it, so the library does not rely on it.

The limit changes which thread runs a BLAS product, not its result: OpenBLAS splits sgemm over
output blocks, each computed in the same order on one or two threads (the tests check that the
model's outputs and trained weights are bitwise equal with and without the limit).
"""
import contextlib
import threading

from threadpoolctl import ThreadpoolController

__all__ = ["blas_on_calling_thread", "blas_threads", "ENABLED"]

# Set to False to measure the fight (benchmarks) or to check that results do not depend on it.
ENABLED = True

_lock = threading.Lock()
_depth = 0
_saved = []
_libs = None


def _blas_libs():
    """threadpoolctl's controllers of the BLAS libraries loaded now, found once (a scan of the
    loaded shared libraries costs milliseconds; setting a thread count costs microseconds)."""
    global _libs
    if _libs is None:
        _libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _libs


def blas_threads():
    """The thread counts of the loaded BLAS libraries, a list of int (one per library)."""
    return [lib.get_num_threads() for lib in _blas_libs()]


@contextlib.contextmanager
def blas_on_calling_thread():
    """Context manager: BLAS products run on the calling thread only while it is active.

    Nested uses cost nothing; the outermost restores the thread counts it found. Does nothing
    when :data:`ENABLED` is False. The thread count of a BLAS library is process-wide, so other
    Python threads' BLAS calls are limited meanwhile too.
    """
    global _depth, _saved
    if not ENABLED:
        yield
        return
    with _lock:
        if _depth == 0:
            _saved = [(lib, lib.get_num_threads()) for lib in _blas_libs()]
            for lib, n in _saved:
                if n != 1:
                    lib.set_num_threads(1)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for lib, n in _saved:
                    if n != 1:
                        lib.set_num_threads(n)
                _saved = []
