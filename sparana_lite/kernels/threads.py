"""Keep BLAS's thread pool and numba's from fighting over the cores.

A model with CSR hidden layers and a dense output layer alternates numba parallel regions (the
CSR kernels) with BLAS products (``@``). After a product, OpenBLAS's worker threads keep
spinning for about 0.1 s (its THREAD_TIMEOUT) waiting for more work, and a numba region started
meanwhile shares a core with them. Measured with ``benchmarks/kernels.py`` on the 2-core AMD
EPYC dev machine (1000x1000 layer, batch 256, every call right after the output layer's
product (256x400) @ (400x10), which OpenBLAS runs on two threads): ``spmm`` took 3.5-11 ms at
every sparsity from 50% to 99%, against 0.12-4.5 ms alone; 0.12-2.5x scipy's speed and
0.24-0.74x dense NumPy's.

:func:`blas_on_calling_thread` limits BLAS to the calling thread while it is active: no BLAS
worker wakes up, numba's pool has the other core to itself, and in the same loop ``spmm`` kept
its speed alone (2.0-3.9x scipy, 1.1-22x dense NumPy from 80% sparsity; runs with other jobs
using 60-70% of the machine, which slow a parallel region now and then whatever the scheme).
``MLP`` runs the forward and backward passes of a model with a CSR layer inside it. The price:
that model's dense products run on one thread (the output layer's product takes 41 us
instead of 23 us; a 784x1000 dense layer at batch 256 would take 3.9 ms instead of 2.0 ms).

Tried the same way and rejected: ``OMP_WAIT_POLICY=passive`` for numba's OpenMP threads and
numba's ``workqueue`` threading layer (both still meet the spinning BLAS worker: 0.1-2.7x
scipy); shutting OpenBLAS's threads down before each CSR product (0.1-1.5x: recreating them
costs more); limiting BLAS only around the CSR products (no effect: the worker is already
spinning); serial CSR kernels (1.2-2.1x scipy, under the 2x target). Setting
``OPENBLAS_THREAD_TIMEOUT=4`` works as well (2.0-3.3x scipy), but OpenBLAS reads it when it
loads, before this library could set it, so nothing here depends on environment variables.

Inference takes a second scheme, :func:`map_row_blocks`: a batch is cut into one block of rows
per core and each block runs the whole network on its own Python thread with the serial twins
of the kernels (:func:`serial_here`). Row-parallel kernels leave every layer's output half in
one core's cache and half in the other's, so the next layer reads half its input across the
cores; a block keeps its activations on one core from the input to the logits. Measured on the
2-core Xeon with the 95% model (median ms per ``logits`` call, same run): batch 1000, 3.9 ms in
two blocks against 5.5-6.0 ms row-parallel. Blocks of 64 and 128 rows were slower than the
row-parallel kernels (batch 256: 2.8-3.1 ms and 1.7 ms against 1.5 ms): the Python between the
kernels holds the GIL, so the blocks wait for each other there, hence :data:`MIN_BLOCK_ROWS`.
A model whose layers but the last are all CSR needs no blocks: its batches of 128 samples or
more take one call of :func:`.csr.layers_forward_tiled`, in which each numba thread carries
whole tiles of 128 samples through every layer (the same locality without the GIL; 2.77-2.79
ms against 3.32-3.44 in blocks at batch 1000, same run).
Each block's thread is pinned to its own core while it runs (:func:`_serially`): left to
itself, the OS often wakes the second thread on the first one's core after a pause. Training
keeps the row-parallel kernels (a weight gradient sums over the whole batch).

The limit changes which threads compute a BLAS product, not what is computed: a CSR model's
outputs, gradients and trained weights agree with and without it to float32 rounding (the
tests check this). They are bitwise equal with some OpenBLAS kernels (SkylakeX) and differ in
the last bit with others (Haswell, the choice on AVX2 and most AMD CPUs), whose split of a
product depends on the thread count.
"""
import contextlib
from concurrent.futures import ThreadPoolExecutor
import os
import threading

from numba import get_num_threads
from threadpoolctl import ThreadpoolController

__all__ = ["blas_on_calling_thread", "blas_limited", "blas_threads", "map_row_blocks",
           "serial_here", "ENABLED"]

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


def blas_limited():
    """Whether :func:`blas_on_calling_thread` holds BLAS to the calling thread now."""
    return _depth > 0


# ---------------------------------------------------------------- one row block per core

# Rows a block needs to be worth a thread (see the module docstring for the measurements).
MIN_BLOCK_ROWS = 256

_local = threading.local()
_pool, _pool_workers = None, 0


def serial_here():
    """Whether the kernels called on this thread must run their serial twins (True inside
    :func:`map_row_blocks`' workers, whose blocks already keep every core busy)."""
    return getattr(_local, "serial", False)


def _serially(f, block, core=None):
    """``f(block)`` with the serial kernels, on the CPU ``core`` (an index into the CPUs this
    process may use) when the OS lets a thread choose its CPU (Linux).

    Without the pin, the OS often wakes a pool thread on the core of the thread that woke it,
    and both blocks share one core until its load balancer moves one away: measured on the
    2-core Xeon, after a pause of 0.2 s the next 4-6 calls of ``logits`` on 1000 images took
    7 ms instead of 4 (a mean of 5.3 ms over 12 calls; 4.4 pinned). A widget that runs a
    forward pass after each move of a slider meets exactly that. The thread's own CPU set is
    restored afterwards.
    """
    saved = _pin(core)
    _local.serial = True
    try:
        return f(block)
    finally:
        _local.serial = False
        if saved is not None:
            os.sched_setaffinity(0, saved)


def _pin(core):
    """Pin the calling thread to the ``core``-th CPU it may use; its former CPU set, or None
    when it was not pinned."""
    if core is None or not hasattr(os, "sched_setaffinity"):
        return None
    saved = os.sched_getaffinity(0)
    cpus = sorted(saved)
    if len(cpus) < 2:
        return None
    os.sched_setaffinity(0, {cpus[core % len(cpus)]})
    return saved


def map_row_blocks(f, x):
    """``[f(block) for block in blocks]`` for ``x`` cut into consecutive blocks of rows, one per
    numba thread (at least :data:`MIN_BLOCK_ROWS` rows each), run at the same time on Python
    threads with serial kernels and BLAS on one thread. A single block runs here, as it is.

    ``f`` must release the GIL in its heavy parts (numba ``nogil`` kernels, NumPy products) and
    must not depend on the thread it runs on.
    """
    global _pool, _pool_workers
    n = x.shape[0]
    parts = min(get_num_threads(), n // MIN_BLOCK_ROWS)
    if parts < 2:
        return [f(x)]
    bounds = [n * t // parts for t in range(parts + 1)]
    blocks = [x[bounds[t]:bounds[t + 1]] for t in range(parts)]
    with _lock:
        if _pool_workers < parts - 1:  # the calling thread takes a block itself
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=parts - 1, thread_name_prefix="sparana-rows")
            _pool_workers = parts - 1
        pool = _pool
    with blas_on_calling_thread():
        others = [pool.submit(_serially, f, block, t) for t, block in enumerate(blocks[1:], 1)]
        first = _serially(f, blocks[0], 0)
        return [first] + [future.result() for future in others]
