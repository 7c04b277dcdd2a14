"""CSR sparse-times-dense kernels on the CPU (numba): ``A @ B``, ``A.T @ B`` and SDDMM.

These are the three products a sparse fully connected layer needs:

- :func:`spmm` -- ``A @ B``, the i-k-j order: for each output row ``i``, for each nonzero
  ``A[i, k] = a``, add ``a * B[k, :]`` to ``out[i, :]``. Both rows are contiguous, so the inner
  loop is a vectorised axpy. Where rows are aligned, 128 columns of ``out[i, :]`` stay in
  registers over the whole row of ``A`` (:mod:`._tile`).
- :func:`spmm_t` -- ``A.T @ B`` through the CSR of ``A.T``. Its pattern is computed once in a
  :class:`TransposePlan`; when only ``A.data`` changes (training changes values, never the
  pattern) the transposed values are a gather ``A.data[plan.perm]``. No atomics.
- :func:`spmm_t_bias_act` -- ``act(A.T @ B + bias[:, None])``, a sparse layer's forward pass
  in the (features, batch) layout: each output row is one feature, so its bias and activation
  are applied while the row is still in L1 instead of in two more passes over the output.
- :func:`sddmm` -- ``(X @ Y)`` sampled at the nonzeros of ``A``, in ``A.data`` order: one
  contiguous dot product per nonzero. This is the weight gradient of a sparse layer, computed
  without ever forming the dense gradient.

At inference and in training, batches of 128 samples or more also take a *tiled layout*
(:func:`tiled_input`): the samples cut into tiles of ``TILE`` (128), each tile an array
(features, 128) of its own, so that the rows of ``B`` that a product reads lie together in
memory. The same kernels run on each tile (:func:`layer_forward_tiled`,
:func:`layer_back_product_tiled`), and the SDDMM sums over the tiles
(:func:`layer_weight_gradient_tiled`). A model's forward pass takes all its layers in one
call (:func:`layers_forward_tiled`), each thread taking whole tiles from input to output.

Every product has a parallel driver (``prange`` over chunks of output rows holding about equal
work) and a serial twin for small inputs; both call the same per-row-range body. Each output
element is computed by one thread in a fixed order, so results do not depend on the number of
numba threads (they are bitwise equal for 1 and 2 threads).

Next to BLAS products (a model's dense layers), run the kernels and the products inside
:func:`sparana_lite.kernels.threads.blas_on_calling_thread`: otherwise OpenBLAS's spinning
worker threads and numba's fight over the cores and these kernels lose most of their speed
(measured in ``benchmarks/kernels.py``). ``MLP`` does so for models with CSR layers.

Inputs are validated at the public functions; float64 operands are converted to float32 and
non-contiguous ones copied (each conversion is one extra pass over that operand).
"""

import functools
import threading

import numpy as np
import scipy.sparse as sp
from numba import get_num_threads, njit, prange

from ._codegen import ALIGN, aligned_empty, wide_vectors
from ._tile import (TILE, lanes_add_product, lanes_load, lanes_sum, lanes_zero, nonfinite_bits,
                    tile_add, tile_load, tile_scale, tile_store, tile_zero, transpose16)
from .dense import ACTIVATIONS, LINEAR, RELU, SIGMOID, TANH, _act_grad_row, _bias_act_feature_row
from .threads import serial_here

__all__ = ["spmm", "spmm_t", "spmm_t_bias_act", "spmv_t", "sddmm", "TransposePlan",
           "csr_matrix_f32", "transpose", "padded_batch", "padded_rows",
           "padded_input", "tile_counts", "tiled_input", "untiled", "layers_forward_tiled",
           "dense_plan"]

# Work (multiply-adds: ``nnz * n`` for the products, ``nnz * d`` for SDDMM) below which the
# serial twin runs. Measured with ``python benchmarks/kernels.py --threshold`` on the 2-core
# AMD EPYC (Zen 5) dev machine, quiet, medians of 40 calls: at 2**15 the parallel spmm is
# 1.15x faster than the serial one but the parallel sddmm 0.9x; at 2**16 both break even or
# win (1.12x, 1.02x); from 2**18 up the parallel drivers win 1.5-1.95x. (A parallel region
# costs only a few microseconds when numba's OpenMP threads are still spinning from the last.)
PARALLEL_MIN_WORK = 65_536

# Columns of the dense operand per tile of the products on unaligned rows (see _column_tiles;
# aligned rows take register tiles of TILE = 128 columns instead). A tile of B
# (k rows of COLUMN_TILE floats) then stays in the 2 MB L2 of a core while every output row
# reads it. Measured on the 2-core Xeon (one thread, CPU time, busy machine): the hidden layers
# of the magnitude-pruned 95% model at batch 1000 ran at 24.9 GF/s untiled, 28.7 / 29.5 / 31.4 /
# 31.4 with tiles of 128 / 256 / 384 / 512 (batch 256, one tile from 256 up: 39.9 GF/s with
# tiles of 128, 52 with one); but the MAAV-pruned trained model of benchmarks/removal.py at
# 95%, whose inputs concentrate on fewer rows of B, took 6.3-6.7 ms per batch of 1000 untiled,
# 6.6-7.1 with tiles of 512 and 7.1-7.6 with 384. 512 is the compromise.
COLUMN_TILE = 512

# The bias of the products without an epilogue (spmm, spmm_t).
_NO_BIAS = np.zeros(0, np.float32)

# Each thread's share of rows is cut into this many chunks of about equal work (nnz + rows).
# More chunks than threads keeps the static schedule balanced when rows differ in length.
_CHUNKS_PER_THREAD = 4


# ------------------------------------------------------------------------ row partitioning

@njit(cache=True)
def _balanced_row_chunks(indptr, n_chunks):
    """Row bounds (n_chunks + 1,) cutting rows into chunks of about equal ``nnz + rows``."""
    m = indptr.shape[0] - 1
    total = indptr[m] + m  # a row costs its nonzeros plus one (zeroing its output)
    bounds = np.empty(n_chunks + 1, np.int64)
    bounds[0] = 0
    c = 1
    for r in range(m + 1):
        while c < n_chunks and indptr[r] + r >= (total * c) // n_chunks:
            bounds[c] = r
            c += 1
    while c <= n_chunks:
        bounds[c] = m
        c += 1
    return bounds


# ------------------------------------------------------------------------ A @ B (i-k-j)

@njit(cache=True, fastmath=True, inline="always")
def _spmm_body(indptr, indices, data, B, out, start, stop, c0, c1, bias, kind):
    """``out[i, c0:c1] = sum_p data[p] * B[indices[p], c0:c1]`` over row i's nonzeros, rows
    start..stop; then, when ``bias`` is not empty, ``out[i, c0:c1] = act(out[i, c0:c1] +
    bias[i])`` (``kind`` as in :mod:`.dense`) while the row is still in L1.

    Eight nonzeros per pass over the output row (then four, then one): an eighth of the loads
    and stores of ``out``. Measured on the 2-core Xeon (AVX-512) for the 95% model's hidden
    layers: 4 per pass was 1.4-1.75x faster than 1; 8 per pass is another 1.0-1.2x (most at
    batch 1000). The columns c0..c1 are one tile of :func:`_column_tiles`, which keeps the
    tile of ``B`` in L2 (see :data:`COLUMN_TILE`).
    """
    w = c1 - c0
    for i in range(start, stop):
        o = out[i, c0:c1]  # slices, so that the loops start at 0 (LLVM then vectorises them)
        for j in range(w):
            o[j] = 0.0
        p = indptr[i]
        end = indptr[i + 1]
        while p + 7 < end:
            a0, a1, a2, a3 = data[p], data[p + 1], data[p + 2], data[p + 3]
            a4, a5, a6, a7 = data[p + 4], data[p + 5], data[p + 6], data[p + 7]
            b0, b1 = B[indices[p], c0:c1], B[indices[p + 1], c0:c1]
            b2, b3 = B[indices[p + 2], c0:c1], B[indices[p + 3], c0:c1]
            b4, b5 = B[indices[p + 4], c0:c1], B[indices[p + 5], c0:c1]
            b6, b7 = B[indices[p + 6], c0:c1], B[indices[p + 7], c0:c1]
            for j in range(w):
                o[j] += (((a0 * b0[j] + a1 * b1[j]) + (a2 * b2[j] + a3 * b3[j]))
                         + ((a4 * b4[j] + a5 * b5[j]) + (a6 * b6[j] + a7 * b7[j])))
            p += 8
        if p + 3 < end:
            a0, a1, a2, a3 = data[p], data[p + 1], data[p + 2], data[p + 3]
            b0, b1 = B[indices[p], c0:c1], B[indices[p + 1], c0:c1]
            b2, b3 = B[indices[p + 2], c0:c1], B[indices[p + 3], c0:c1]
            for j in range(w):
                o[j] += (a0 * b0[j] + a1 * b1[j]) + (a2 * b2[j] + a3 * b3[j])
            p += 4
        while p < end:
            a, b = data[p], B[indices[p], c0:c1]
            for j in range(w):
                o[j] += a * b[j]
            p += 1
        if bias.shape[0]:
            _bias_act_feature_row(o, bias[i], kind)


@njit(cache=True, fastmath=True)
def _spmm_rows(indptr, indices, data, B, out, start, stop, c0, c1, bias, kind):
    _spmm_body(indptr, indices, data, B, out, start, stop, c0, c1, bias, kind)


@njit(cache=True, fastmath=True)
def _spmm_rows_wide(indptr, indices, data, B, out, start, stop, c0, c1, bias, kind):
    """:func:`_spmm_body` vectorised with 512-bit registers (see :mod:`._codegen`): for rows
    of ``B`` and ``out`` that start at 64-byte boundaries only (:func:`_wide_rows`)."""
    wide_vectors()
    _spmm_body(indptr, indices, data, B, out, start, stop, c0, c1, bias, kind)


@njit(cache=True, fastmath=True)
def _spmm_rows_tile(indptr, indices, data, B, out, start, stop, c0, bias, kind):
    """:func:`_spmm_body` for the ``TILE`` columns c0..c0 + TILE, the output tile held in
    registers (:mod:`._tile`): per nonzero, ``TILE / 16`` loads of ``B`` and no load or store
    of ``out``. The nonzeros are grouped as in :func:`_spmm_body` and the results are bitwise
    equal to it (tested). For rows of ``B`` and ``out`` that start at 64-byte boundaries.

    Measured on the 2-core Xeon (one thread, the hidden layers of the 95% model, GF/s, this
    loop against :func:`_spmm_rows_wide` over the same columns): 66-70 against 40-41 with 128
    columns, 59-60 against 47-52 with 256, 46-52 against 36-43 with 1008, but 41-51 against
    45-55 with 512, whose 2 KB rows compete for cache sets (:func:`padded_batch` avoids such
    batches). When the rows of ``B`` it reads stay in L1 the loop runs at about 100 GF/s
    (``benchmarks/model.py --profile``): the product waits on the L2 cache, which serves one
    row of ``B`` per nonzero.
    """
    wide_vectors()
    for i in range(start, stop):
        s = tile_zero()
        p = indptr[i]
        end = indptr[i + 1]
        while p + 7 < end:
            s = tile_add(s, tile_add(
                tile_add(tile_add(_term(data, indices, B, p, c0), _term(data, indices, B, p + 1, c0)),
                         tile_add(_term(data, indices, B, p + 2, c0), _term(data, indices, B, p + 3, c0))),
                tile_add(tile_add(_term(data, indices, B, p + 4, c0), _term(data, indices, B, p + 5, c0)),
                         tile_add(_term(data, indices, B, p + 6, c0), _term(data, indices, B, p + 7, c0)))))
            p += 8
        if p + 3 < end:
            s = tile_add(s, tile_add(
                tile_add(_term(data, indices, B, p, c0), _term(data, indices, B, p + 1, c0)),
                tile_add(_term(data, indices, B, p + 2, c0), _term(data, indices, B, p + 3, c0))))
            p += 4
        while p < end:
            s = tile_add(s, _term(data, indices, B, p, c0))
            p += 1
        tile_store(out, i, c0, s)
        if bias.shape[0]:
            _bias_act_feature_row(out[i, c0:c0 + TILE], bias[i], kind)


@njit(cache=True, inline="always")
def _term(data, indices, B, p, c0):
    """``data[p] * B[indices[p], c0:c0 + TILE]``, a tile."""
    return tile_scale(data[p], tile_load(B, indices[p], c0))


@njit(cache=True)
def _column_tiles(n, tile, wide):
    """Column bounds (t + 1,) cutting n columns into tiles. ``wide`` (rows aligned, n a multiple
    of 16): register tiles of exactly ``TILE`` columns, then one tile of the rest. Otherwise
    t = ceil(n / tile) tiles of nearly equal width, every cut at a multiple of 16 columns
    (64 bytes: rows of an aligned array stay aligned at each cut when n is a multiple of 16)."""
    if wide:
        full = n // TILE
        t = full + (1 if n % TILE else 0)
        bounds = np.empty(max(t, 1) + 1, np.int64)
        for q in range(full + 1):
            bounds[q] = q * TILE
        bounds[bounds.shape[0] - 1] = n
        return bounds
    t = max(1, (n + tile - 1) // tile)
    width = ((n + t - 1) // t + 15) // 16 * 16
    bounds = np.empty(t + 1, np.int64)
    for q in range(t + 1):
        bounds[q] = min(n, q * width)
    bounds[t] = n
    return bounds


@njit(cache=True, fastmath=True, inline="always")
def _spmm_block(indptr, indices, data, B, out, start, stop, c0, c1, bias, kind, wide):
    """Rows start..stop, columns c0..c1 (one tile of :func:`_column_tiles`)."""
    if wide and c1 - c0 == TILE:
        _spmm_rows_tile(indptr, indices, data, B, out, start, stop, c0, bias, kind)
    elif wide:
        _spmm_rows_wide(indptr, indices, data, B, out, start, stop, c0, c1, bias, kind)
    else:
        _spmm_rows(indptr, indices, data, B, out, start, stop, c0, c1, bias, kind)


@njit(cache=True, fastmath=True, nogil=True)
def _spmm_serial(indptr, indices, data, B, out, bias, kind, tile, wide=False):
    cols = _column_tiles(B.shape[1], tile, wide)
    for q in range(cols.shape[0] - 1):
        _spmm_block(indptr, indices, data, B, out, 0, out.shape[0], cols[q], cols[q + 1], bias,
                    kind, wide)


@njit(cache=True, fastmath=True, parallel=True)
def _spmm_parallel(indptr, indices, data, B, out, bias, kind, n_chunks, tile, wide=False):
    bounds = _balanced_row_chunks(indptr, n_chunks)
    cols = _column_tiles(B.shape[1], tile, wide)
    n_rows = bounds.shape[0] - 1
    for u in prange(n_rows * (cols.shape[0] - 1)):
        q, c = u // n_rows, u % n_rows
        _spmm_block(indptr, indices, data, B, out, bounds[c], bounds[c + 1], cols[q],
                    cols[q + 1], bias, kind, wide)


# ------------------------------------------------------------------------ x @ A (one sample)

# fastmath without "nnan"/"ninf": the kernel tests weights for NaN and infinity.
_FINITE_FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}


@njit(cache=True, fastmath=_FINITE_FASTMATH, nogil=True)
def _spmv_t(indptr, indices, data, x, out, bias, kind):
    """``out = act(A.T @ x + bias)`` (``A.T @ x`` alone when ``bias`` is empty): for each row
    ``i`` of ``A`` in order, ``out[indices[p]] += x[i] * data[p]`` over its nonzeros.

    One sample through a sparse layer: ``A`` is the layer's own CSR (inputs are rows), so no
    transpose is needed, and an input that is zero adds nothing and is skipped (most of an
    MNIST image, about half of a ReLU layer's outputs). A skipped row is still read once to
    look for a weight that is NaN or infinite, where ``0 * w`` is NaN; such a row is added as
    any other, so results match SciPy's. Each output sums its terms in the order of the rows
    of ``A`` (and of the nonzeros within a row): one thread, one fixed order.
    """
    for j in range(out.shape[0]):
        out[j] = 0.0
    for i in range(x.shape[0]):
        xi = x[i]
        start, end = indptr[i], indptr[i + 1]
        if xi == 0.0:
            finite = True
            for p in range(start, end):
                w = data[p]
                if w != w or w - w != 0.0:  # NaN or +-inf
                    finite = False
            if finite:
                continue
        for p in range(start, end):
            out[indices[p]] += xi * data[p]
    if bias.shape[0]:
        for j in range(out.shape[0]):
            v = out[j] + bias[j]
            if kind == RELU:
                out[j] = v if v > 0 else 0.0
            elif kind == TANH:
                out[j] = np.tanh(v)
            elif kind == SIGMOID:
                out[j] = 1.0 / (1.0 + np.exp(-v))
            else:
                out[j] = v


# ------------------------------------------------------------------------ SDDMM

@njit(cache=True, fastmath=True, inline="always")
def _sddmm_body(indptr, indices, X, Yt, out, start, stop):
    """``out[p] = dot(X[i, :], Yt[indices[p], :])`` for the nonzeros p of rows start..stop.

    Four nonzeros at a time share each load of ``X[i, t]`` (measured 1.15-1.25x faster).
    """
    d = X.shape[1]
    for i in range(start, stop):
        p = indptr[i]
        end = indptr[i + 1]
        while p + 3 < end:
            k0, k1, k2, k3 = indices[p], indices[p + 1], indices[p + 2], indices[p + 3]
            s0 = s1 = s2 = s3 = np.float32(0.0)
            for t in range(d):
                x = X[i, t]
                s0 += x * Yt[k0, t]
                s1 += x * Yt[k1, t]
                s2 += x * Yt[k2, t]
                s3 += x * Yt[k3, t]
            out[p], out[p + 1], out[p + 2], out[p + 3] = s0, s1, s2, s3
            p += 4
        while p < end:
            k = indices[p]
            s = np.float32(0.0)
            for t in range(d):
                s += X[i, t] * Yt[k, t]
            out[p] = s
            p += 1


@njit(cache=True, fastmath=True)
def _sddmm_rows(indptr, indices, X, Yt, out, start, stop):
    _sddmm_body(indptr, indices, X, Yt, out, start, stop)


@njit(cache=True, fastmath=True)
def _sddmm_rows_wide(indptr, indices, X, Yt, out, start, stop):
    """:func:`_sddmm_body` with 512-bit vectors, for aligned rows of X and Yt only. The dot
    products' partial sums then fall into other lanes: results differ from the narrow twin's
    in the last bits (each is fixed, whatever the thread count)."""
    wide_vectors()
    _sddmm_body(indptr, indices, X, Yt, out, start, stop)


@njit(cache=True, fastmath=True, nogil=True)
def _sddmm_serial(indptr, indices, X, Yt, out, wide=False):
    if wide:
        _sddmm_rows_wide(indptr, indices, X, Yt, out, 0, X.shape[0])
    else:
        _sddmm_rows(indptr, indices, X, Yt, out, 0, X.shape[0])


@njit(cache=True, fastmath=True, parallel=True)
def _sddmm_parallel(indptr, indices, X, Yt, out, n_chunks, wide=False):
    bounds = _balanced_row_chunks(indptr, n_chunks)
    for c in prange(bounds.shape[0] - 1):
        if wide:
            _sddmm_rows_wide(indptr, indices, X, Yt, out, bounds[c], bounds[c + 1])
        else:
            _sddmm_rows(indptr, indices, X, Yt, out, bounds[c], bounds[c + 1])


# ------------------------------------------------------------------------ transpose pattern

@njit(cache=True)
def _transpose_pattern(indptr, indices, n_cols):
    """CSR pattern of A.T and the permutation ``perm`` with ``AT.data = A.data[perm]``.

    A counting sort of the nonzeros by column; within a column the nonzeros keep A's row
    order, so AT's rows are sorted by index.
    """
    m = indptr.shape[0] - 1
    nnz = indptr[m]
    t_indptr = np.zeros(n_cols + 1, np.int64)
    for p in range(nnz):
        t_indptr[indices[p] + 1] += 1
    for j in range(n_cols):
        t_indptr[j + 1] += t_indptr[j]
    fill = t_indptr[:-1].copy()
    t_indices = np.empty(nnz, np.int64)
    perm = np.empty(nnz, np.int64)
    for i in range(m):
        for p in range(indptr[i], indptr[i + 1]):
            q = fill[indices[p]]
            t_indices[q] = i
            perm[q] = p
            fill[indices[p]] += 1
    return t_indptr, t_indices, perm


@njit(cache=True, nogil=True)
def _gather(data, perm, out):
    for q in range(perm.shape[0]):
        out[q] = data[perm[q]]


class TransposePlan:
    """The CSR pattern of ``A.T``, built once from ``A``'s pattern and reused.

    Parameters
    ----------
    A : scipy.sparse CSR matrix or array, shape (m, k)
        Only its pattern (``indptr``, ``indices``, in their storage order) and shape are used.

    Attributes
    ----------
    shape : tuple of int
        ``(m, k)``, the shape of ``A`` (not of ``A.T``).
    nnz : int
    indptr : ndarray of int, shape (k + 1,)
        Row pointers of ``A.T``.
    indices : ndarray of int, shape (nnz,)
        Column indices of ``A.T`` (rows of ``A``), ascending within each row.
    perm : ndarray of int, shape (nnz,)
        ``A.T.data == A.data[perm]``.

    Notes
    -----
    Training changes the values of a sparse layer, never its pattern, so the transpose is
    refreshed by :meth:`transpose_data` (a gather) instead of being rebuilt. A plan is valid
    only for matrices that store the same pattern in the same order; :meth:`matches` checks.
    """

    def __init__(self, A):
        A = _check_csr(A, "A")
        m, k = A.shape
        indptr, indices = _index_arrays(A)
        self.shape = (int(m), int(k))
        self.nnz = int(indptr[-1])
        _check_pattern(indptr, indices, k, "A")
        t_indptr, t_indices, perm = _transpose_pattern(indptr, indices, k)
        # int32 indices when they fit: less index traffic in the kernels
        itype = np.int32 if max(m, k, self.nnz) < np.iinfo(np.int32).max else np.int64
        self.indptr = t_indptr.astype(itype)
        self.indices = t_indices.astype(itype)
        self.perm = perm.astype(itype)
        self._a_indptr = indptr.copy()

    def matches(self, A, check_indices=False):
        """Whether this plan fits ``A``: same shape, nnz and row pointers (O(m)).

        Parameters
        ----------
        A : scipy.sparse CSR matrix or array
        check_indices : bool, default False
            Also compare every column index, in storage order (O(nnz), about the cost of a
            gather). Without it, a matrix with the same row lengths but other columns passes.

        Returns
        -------
        bool
        """
        A = _check_csr(A, "A")
        if tuple(A.shape) != self.shape or _nnz(A) != self.nnz:
            return False
        if not np.array_equal(A.indptr, self._a_indptr):
            return False
        if check_indices:
            # the column of A's nonzero perm[q] is the row of A.T that holds q
            cols = np.empty(self.nnz, np.int64)
            cols[self.perm] = np.repeat(np.arange(self.shape[1]), np.diff(self.indptr))
            return bool(np.array_equal(cols, A.indices[:self.nnz]))
        return True

    def transpose_data(self, data, out=None):
        """Values of ``A.T`` in its CSR order: ``data[perm]``.

        Parameters
        ----------
        data : ndarray, shape (nnz,)
            ``A.data`` of a matrix with this plan's pattern.
        out : ndarray of float32, shape (nnz,), optional
            Buffer for the result.

        Returns
        -------
        ndarray of float32, shape (nnz,)
        """
        data = np.asarray(data)
        if data.ndim != 1 or data.shape[0] < self.nnz:
            raise ValueError(f"data must be a 1-D array with at least nnz={self.nnz} values; "
                             f"got shape {data.shape}")
        data = np.ascontiguousarray(data[:self.nnz], dtype=np.float32)
        out = _check_out(out, (self.nnz,), "out", data)
        _gather(data, self.perm, out)
        return out

    def __repr__(self):
        return f"TransposePlan(shape={self.shape}, nnz={self.nnz})"


# ------------------------------------------------------------------------ public API

def spmm(A, B, out=None):
    """Sparse times dense: ``A @ B``.

    Parameters
    ----------
    A : scipy.sparse CSR matrix or array, shape (m, k)
        Values are used as float32. Unsorted indices and duplicate entries are fine
        (duplicates add up, as in scipy).
    B : array_like, shape (k, n)
        Real numbers. float64 is converted to float32 and a non-C-contiguous array is copied
        (one extra pass over ``B``).
    out : ndarray of float32, shape (m, n), C-contiguous, optional
        Buffer for the result (must not overlap ``B``); overwritten.

    Returns
    -------
    ndarray of float32, shape (m, n)
    """
    A = _check_csr(A, "A")
    B = _check_dense(B, "B")
    m, k = A.shape
    check_chain(A.shape, B.shape)
    indptr, indices = _index_arrays(A)
    data = _values(A)
    out = _check_out(out, (m, B.shape[1]), "out", B, data)
    _check_pattern(indptr, indices, k, "A")
    _spmm(indptr, indices, data, B, out)
    return out


def spmm_t(A, B, plan=None, out=None):
    """Transposed sparse times dense: ``A.T @ B``.

    Parameters
    ----------
    A : scipy.sparse CSR matrix or array, shape (m, k)
    B : array_like, shape (m, n)
        Real numbers; float64 is converted to float32, non-contiguous input copied.
    plan : TransposePlan, optional
        The transpose pattern of ``A`` (built here when not given). Pass a stored plan to
        skip building it: only a gather of ``A.data`` remains. It is checked with
        ``plan.matches(A)`` (shape, nnz, row pointers), not index by index: a plan built
        from another pattern with the same row pointers gives wrong results.
    out : ndarray of float32, shape (k, n), C-contiguous, optional
        Buffer for the result (must not overlap ``B``); overwritten.

    Returns
    -------
    ndarray of float32, shape (k, n)
    """
    A, B, plan = _check_transposed(A, B, plan)
    out = _check_out(out, (A.shape[1], B.shape[1]), "out", B)
    _spmm(plan.indptr, plan.indices, plan.transpose_data(A.data), B, out)
    return out


def spmm_t_bias_act(A, B, bias, activation, plan=None, out=None):
    """A sparse layer's forward pass in the (features, batch) layout: ``act(A.T @ B + bias[:, None])``.

    Each row of ``A.T @ B`` is one feature, so its bias and activation are applied while the
    row is still in cache: one pass over the output instead of three (product, bias,
    activation).

    Parameters
    ----------
    A, B, plan, out
        As in :func:`spmm_t`: A (m, k), B (m, n), out (k, n).
    bias : array_like, shape (k,)
        Real numbers, one per row of the result (float64 is converted to float32).
    activation : {"linear", "relu", "tanh", "sigmoid"} or int
        The activation, by name or by its code in :mod:`sparana_lite.kernels.dense`
        (``LINEAR``, ``RELU``, ``TANH``, ``SIGMOID``).

    Returns
    -------
    ndarray of float32, shape (k, n)
        Equal, to float32 rounding, to ``dense.bias_act_`` applied to ``spmm_t(A, B, plan).T``.
    """
    A, B, plan = _check_transposed(A, B, plan)
    k = A.shape[1]
    kind = check_activation(activation)
    bias = check_bias(bias, k)
    out = _check_out(out, (k, B.shape[1]), "out", B)
    _spmm(plan.indptr, plan.indices, plan.transpose_data(A.data), B, out, bias, kind)
    return out


def spmv_t(A, x, out=None):
    """Transposed sparse matrix times a vector: ``A.T @ x`` (equal to ``x @ A``).

    One sample through a sparse layer whose CSR ``A`` has the inputs as rows. Zero entries of
    ``x`` are skipped unless their row of ``A`` holds a NaN or an infinity (``0 * inf`` is NaN,
    as in SciPy). Serial: a vector is too little work for a second thread.

    Parameters
    ----------
    A : scipy.sparse CSR matrix or array, shape (m, k)
        Values are used as float32; unsorted indices and duplicates are fine.
    x : array_like, shape (m,)
        Real numbers; float64 is converted to float32, a non-contiguous array copied.
    out : ndarray of float32, shape (k,), C-contiguous, optional
        Buffer for the result (must not overlap ``x``); overwritten.

    Returns
    -------
    ndarray of float32, shape (k,)
    """
    A = _check_csr(A, "A")
    xv = np.asarray(x)
    if xv.ndim != 1:
        raise ValueError(f"x must be a 1-D array; got shape {xv.shape}")
    if not _real(xv.dtype):
        raise TypeError(f"x must hold real numbers; got dtype {xv.dtype}")
    if xv.shape[0] != A.shape[0]:
        raise ValueError(f"A.T and x do not chain: A has shape {tuple(A.shape)}, x has shape "
                         f"{xv.shape}; x needs {A.shape[0]} entries (A's row count)")
    xv = np.ascontiguousarray(xv, dtype=np.float32)
    indptr, indices = _index_arrays(A)
    data = _values(A)
    out = _check_out(out, (A.shape[1],), "out", xv, data)
    _check_pattern(indptr, indices, A.shape[1], "A")
    _spmv_t(indptr, indices, data, xv, out, _NO_BIAS, LINEAR)
    return out


def layer_forward(A, B, bias, kind, plan):
    """:func:`spmm_t_bias_act` for a CSR layer's own operands, without the checks: ``A`` a
    float32 CSR matrix (m, k) and ``plan`` its :class:`TransposePlan`, ``B`` float32 (m, n)
    C-contiguous, ``bias`` float32 (k,), ``kind`` an activation code. ``CSRLayer`` calls it on
    every forward pass, where the public function's checks cost about 30 us per layer, as much
    as a 64-image batch's product.

    A single sample (n = 1) takes :func:`_spmv_t` on ``A`` itself: no transpose of the
    values, zero inputs skipped, no thread started."""
    if B.shape[1] == 1:
        out = np.empty((A.shape[1], 1), np.float32)
        _spmv_t(A.indptr, A.indices, A.data, B.reshape(-1), out.reshape(-1), bias, kind)
        return out
    data = np.empty(plan.nnz, np.float32)
    _gather(A.data, plan.perm, data)
    out = aligned_empty((A.shape[1], B.shape[1]))
    _spmm(plan.indptr, plan.indices, data, B, out, bias, kind)
    return out


def layer_back_product(A, B):
    """:func:`spmm` for a CSR layer's own operands, without the checks (their O(nnz) scan of
    the pattern cost about 40 us per call in a training step): ``A`` a float32 CSR matrix
    (m, k) from :func:`csr_matrix_f32`, ``B`` float32 (k, n) C-contiguous. ``CSRLayer`` calls
    it for ``d @ W.T``."""
    out = aligned_empty((A.shape[0], B.shape[1]))
    _spmm(A.indptr, A.indices, A.data, B, out)
    return out


def layer_weight_gradient(A, X, Y, out=None):
    """:func:`sddmm` for a CSR layer's own operands, without the checks: ``A`` as in
    :func:`layer_back_product`, ``X`` float32 (m, d) C-contiguous, ``Y`` float32 (d, k) (its
    transpose is copied when it is not C-contiguous), ``out`` float32 (nnz,) or None."""
    Yt = Y.T if Y.T.flags.c_contiguous else transpose(Y)
    nnz = int(A.indptr[-1])
    if out is None:
        out = np.empty(nnz, np.float32)
    wide = _wide_rows(X) and _wide_rows(Yt)
    if nnz * X.shape[1] >= PARALLEL_MIN_WORK and not serial_here():
        _sddmm_parallel(A.indptr, A.indices, X, Yt, out, _n_chunks(), wide)
    else:
        _sddmm_serial(A.indptr, A.indices, X, Yt, out, wide)
    return out


def sddmm(A, X, Y, out=None):
    """Sampled dense-dense product: ``(X @ Y)`` at the nonzeros of ``A``, in ``A.data`` order.

    Parameters
    ----------
    A : scipy.sparse CSR matrix or array, shape (m, k)
        Only the pattern is used; values are ignored. Any index order, duplicates allowed.
    X : array_like, shape (m, d)
    Y : array_like, shape (d, k)
        Real numbers; float64 is converted to float32. The kernel reads rows of ``X`` and
        columns of ``Y``: a C-contiguous ``X`` and an F-contiguous ``Y`` (e.g. ``Z.T``) are used
        as they are, other layouts are copied once.
    out : ndarray of float32, shape (nnz,), optional
        Buffer for the result; overwritten.

    Returns
    -------
    ndarray of float32, shape (nnz,)
        ``out[p] = X[i, :] @ Y[:, indices[p]]`` for the nonzero ``p`` in row ``i``.
    """
    A = _check_csr(A, "A")
    X = _check_dense(X, "X")
    Yt = _check_dense(Y, "Y", transpose=True)  # rows of Yt are the columns of Y
    check_sampled(A.shape, X.shape, Yt.shape[::-1])
    indptr, indices = _index_arrays(A)
    nnz = int(indptr[-1])
    out = _check_out(out, (nnz,), "out", X, Yt)
    _check_pattern(indptr, indices, A.shape[1], "A")
    wide = _wide_rows(X) and _wide_rows(Yt)
    if nnz * X.shape[1] >= PARALLEL_MIN_WORK and not serial_here():
        _sddmm_parallel(indptr, indices, X, Yt, out, _n_chunks(), wide)
    else:
        _sddmm_serial(indptr, indices, X, Yt, out, wide)
    return out


@njit(cache=True, nogil=True)
def _transpose_columns(x, out, j0, j1):
    """``out[j0:j1, :n] = x[:, j0:j1].T`` in 16x16 register blocks (:func:`._tile.transpose16`),
    the edges element by element, and ``out[j0:j1, n:] = 0`` (padding columns, when ``out`` has
    more columns than ``x`` has rows). ``j0`` is a multiple of 16. Returns nonzero when
    ``x[:, j0:j1]`` holds a NaN or an infinity. Measured on the 2-core Xeon for a 1008 x 784
    batch, one thread: 0.31 ms, against 0.49 ms for NumPy's ``out[...] = x.T``."""
    wide_vectors()
    n = x.shape[0]
    n16 = n - n % 16
    j16 = j0 + (j1 - j0) // 16 * 16
    nonfinite = 0
    for j in range(j0, j16, 16):
        for i in range(0, n16, 16):
            nonfinite |= transpose16(x, i, j, out)
    for j in range(j0, j16):
        for i in range(n16, n):
            nonfinite |= _copy_checked(x, i, j, out)
    for j in range(j16, j1):
        for i in range(n):
            nonfinite |= _copy_checked(x, i, j, out)
    for j in range(j0, j1):
        for i in range(n, out.shape[1]):
            out[j, i] = 0.0
    return nonfinite


@njit(cache=True, inline="always")
def _copy_checked(x, i, j, out):
    """``out[j, i] = x[i, j]``; 1 when it is a NaN or an infinity, else 0."""
    v = x[i, j]
    out[j, i] = v
    return nonfinite_bits(v)


@njit(cache=True, parallel=True)
def _transpose_parallel(x, out, parts):
    m = x.shape[1]
    nonfinite = np.zeros(parts, np.int32)
    for t in prange(parts):
        j0, j1 = m * t // parts // 16 * 16, m * (t + 1) // parts // 16 * 16
        if t == parts - 1:
            j1 = m
        nonfinite[t] = _transpose_columns(x, out, j0, j1)
    return nonfinite.any()


def transpose(x):
    """``x.T`` as a C-contiguous array: the (features, batch) layout the products take.

    Parameters
    ----------
    x : ndarray, shape (n, m)

    Returns
    -------
    ndarray, shape (m, n), C-contiguous, of x's dtype
        ``x.T`` itself when it is C-contiguous already (x is F-ordered, e.g. a CSR layer's
        output), else a copy. A C-contiguous float32 ``x`` is copied in 16x16 register
        blocks (:func:`_transpose_columns`), by all numba threads when it has at least
        ``PARALLEL_MIN_WORK`` elements (each a range of rows of the result).
    """
    xt = x.T
    if xt.flags.c_contiguous:
        return xt
    if x.ndim != 2 or x.dtype != np.float32:
        return np.ascontiguousarray(xt)
    out = aligned_empty(xt.shape)
    if not x.flags.c_contiguous:
        out[...] = xt
    elif x.size < PARALLEL_MIN_WORK or serial_here():
        _transpose_columns(x, out, 0, x.shape[1])
    else:
        _transpose_parallel(x, out, _n_chunks())
    return out


def padded_rows(n):
    """The batch size the CSR products prefer for a batch of ``n`` samples (see
    :func:`padded_batch`): n itself below ``TILE``, else n rounded up to a multiple of 16, plus
    16 where the rows of the (features, batch) layout would span a multiple of 1 KB."""
    if n < TILE:  # no register tile to gain; and a single sample takes the spmv path
        return n
    rows = -(-n // 16) * 16
    if rows >= 512 and rows % 256 == 0:
        rows += 16
    return rows


def padded_batch(x):
    """``x`` with zero rows appended, so that a CSR layer's products get aligned rows.

    A CSR layer works in the (features, batch) layout. With a batch of a multiple of 16
    samples every row starts at a 64-byte boundary and the products take the register-tiled
    kernel (``kernels.csr._spmm_rows_tile``) on each ``TILE`` (128) columns. Batches of fewer
    than ``TILE`` samples are left as they are (a single sample takes :func:`spmv_t`, 2x
    faster than the dense product; padded to 16 it was slower than dense). A batch whose rows
    span a multiple of 1 KB (512, 1024, ... samples) gets 16 more, because rows at such
    strides compete for the same cache sets (the 95% model's first layer on one thread: 23.9
    GF/s at 1024 samples, 52.8 at 1040). Rows do not mix in a forward pass, so the padding
    changes no real row's output; in a training step the padding rows get a zero error, so they
    add nothing to a gradient. ``x`` itself when it needs no padding.

    Parameters
    ----------
    x : ndarray, shape (n, m)

    Returns
    -------
    ndarray, shape (padded_rows(n), m), of x's dtype; the first n rows are ``x``
    """
    n = x.shape[0]
    rows = padded_rows(n)
    if rows == n:
        return x
    padded = np.empty((rows, x.shape[1]), x.dtype)
    padded[:n] = x
    padded[n:] = 0
    return padded


def padded_input(x):
    """A checked input batch in the layout of a first CSR layer: ``padded_batch(x).T``, copied
    once, and whether ``x`` is finite.

    The transpose (:func:`_transpose_columns`) pads and checks as it copies, so an input batch
    is read once, not three times (a finite check, the padded copy, the transpose): measured on
    the 2-core Xeon, ``np.isfinite(x).all()`` alone took 0.41 ms for 1000 MNIST images, a tenth
    of the 95% model's forward pass.

    Parameters
    ----------
    x : ndarray of float32, shape (n, m), C-contiguous

    Returns
    -------
    xt : ndarray of float32, shape (m, padded_rows(n)), C-contiguous, rows 64-byte aligned
        ``xt[:, :n] == x.T``, the other columns zero; ``xt.T`` is the padded batch (F-ordered),
        which a CSR layer reads without a copy.
    finite : bool
        False when ``x`` holds a NaN or an infinity (``xt`` is then a copy of it all the same).
    """
    n, m = x.shape
    out = aligned_empty((m, padded_rows(n)))
    if x.size < PARALLEL_MIN_WORK or serial_here():
        nonfinite = _transpose_columns(x, out, 0, m)
    else:
        nonfinite = _transpose_parallel(x, out, _n_chunks())
    return out, not nonfinite


# ------------------------------------------------------------------------ the tiled layout
#
# A batch of n >= TILE samples can also travel through the CSR layers in tiles (inference and
# training, ``MLP._tiled_forward`` and ``_tiled_backward``): the samples rounded up to a multiple
# of 16, cut into ``t`` tiles of TILE samples, each an array (features, TILE) of its own, and the
# ``r`` samples left over (a multiple of 16 below TILE) in a last slab (features, r). ``full``
# (t, features, TILE) holds the tiles, ``rest`` (features, r) the slab. Each tile's rows lie
# together in memory, where in the (features, batch) layout they lie a batch apart: measured on
# the 2-core Xeon (the 95% model's first layer, one thread, GF/s, same run) 57-58 tiled against
# 42-43 for 528 samples, 56-57 against 51-52 for 256. The products are those of the (features,
# batch) layout (the same kernels on the same columns), so their outputs are bitwise the same;
# the SDDMM adds a gradient's samples in another order (:func:`_sddmm_tiled_body`).

def tile_counts(n):
    """``(t, r)``: n samples rounded up to a multiple of 16 make t tiles of ``TILE`` and a slab
    of r < ``TILE`` (a multiple of 16)."""
    rows = -(-n // 16) * 16
    return rows // TILE, rows % TILE


@njit(cache=True, nogil=True)
def _transpose_slab(x, full, rest, q):
    """Slab q of the tiled layout from the samples x (n, m): ``full[q] = x[q*TILE:(q+1)*TILE].T``
    (q < t) or ``rest = x[t*TILE:].T``, zero columns past the last sample; nonzero when those
    samples hold a NaN or an infinity."""
    if q < full.shape[0]:
        return _transpose_columns(x[q * TILE:min((q + 1) * TILE, x.shape[0])], full[q], 0,
                                  x.shape[1])
    return _transpose_columns(x[q * TILE:], rest, 0, x.shape[1])


@njit(cache=True, nogil=True)
def _transpose_slabs_serial(x, full, rest):
    nonfinite = 0
    for q in range(full.shape[0] + (1 if rest.shape[1] else 0)):
        nonfinite |= _transpose_slab(x, full, rest, q)
    return nonfinite


@njit(cache=True, parallel=True)
def _transpose_slabs_parallel(x, full, rest):
    slabs = full.shape[0] + (1 if rest.shape[1] else 0)
    nonfinite = np.zeros(slabs, np.int32)
    for q in prange(slabs):
        nonfinite[q] = _transpose_slab(x, full, rest, q)
    return nonfinite.any()


def tiled_input(x):
    """A checked input batch in the tiled layout: ``(full, rest, finite)``.

    Parameters
    ----------
    x : ndarray of float32, shape (n, m), C-contiguous, n >= ``TILE``

    Returns
    -------
    full : ndarray of float32, shape (t, m, TILE)
        ``full[q] == x[q * TILE:(q + 1) * TILE].T`` (:func:`tile_counts` gives t and r).
    rest : ndarray of float32, shape (m, r)
        The samples past the tiles, transposed, zero columns after the last one.
    finite : bool
        False when ``x`` holds a NaN or an infinity.
    """
    n, m = x.shape
    t, r = tile_counts(n)
    full, rest = aligned_empty((t, m, TILE)), aligned_empty((m, r))
    if x.size < PARALLEL_MIN_WORK or serial_here():
        nonfinite = _transpose_slabs_serial(x, full, rest)
    else:
        nonfinite = _transpose_slabs_parallel(x, full, rest)
    return full, rest, not nonfinite


@njit(cache=True, fastmath=True, inline="always")
def _spmm_slab(indptr, indices, data, full, rest, out_full, out_rest, q, start, stop, bias,
               kind):
    """Rows start..stop of slab q of ``A @ B`` in the tiled layout."""
    if q < full.shape[0]:
        _spmm_rows_tile(indptr, indices, data, full[q], out_full[q], start, stop, 0, bias, kind)
    else:
        _spmm_rows_wide(indptr, indices, data, rest, out_rest, start, stop, 0, rest.shape[1],
                        bias, kind)


@njit(cache=True, fastmath=True, nogil=True)
def _spmm_tiled_serial(indptr, indices, data, full, rest, out_full, out_rest, bias, kind):
    for q in range(full.shape[0] + (1 if rest.shape[1] else 0)):
        _spmm_slab(indptr, indices, data, full, rest, out_full, out_rest, q, 0,
                   out_rest.shape[0], bias, kind)


@njit(cache=True, fastmath=True, parallel=True)
def _spmm_tiled_parallel(indptr, indices, data, full, rest, out_full, out_rest, bias, kind,
                         n_chunks):
    bounds = _balanced_row_chunks(indptr, n_chunks)
    n_rows = bounds.shape[0] - 1
    slabs = full.shape[0] + (1 if rest.shape[1] else 0)
    for u in prange(n_rows * slabs):
        q, c = u // n_rows, u % n_rows
        _spmm_slab(indptr, indices, data, full, rest, out_full, out_rest, q, bounds[c],
                   bounds[c + 1], bias, kind)


def _spmm_tiled(indptr, indices, data, full, rest, k, bias=_NO_BIAS, kind=LINEAR):
    """``(out_full, out_rest)`` of the CSR (k, m) times samples in the tiled layout."""
    out_full, out_rest = aligned_empty((full.shape[0], k, TILE)), aligned_empty((k, rest.shape[1]))
    work = int(indptr[-1]) * (full.shape[0] * TILE + rest.shape[1])
    if work >= PARALLEL_MIN_WORK and not serial_here():
        _spmm_tiled_parallel(indptr, indices, data, full, rest, out_full, out_rest, bias, kind,
                             _n_chunks())
    else:
        _spmm_tiled_serial(indptr, indices, data, full, rest, out_full, out_rest, bias, kind)
    return out_full, out_rest


def layer_forward_tiled(A, full, rest, bias, kind, plan):
    """:func:`layer_forward` in the tiled layout: ``(out_full, out_rest)``, of shapes
    (t, k, ``TILE``) and (k, r) for ``A`` (m, k), ``full`` (t, m, ``TILE``), ``rest`` (m, r)
    (from :func:`tiled_input` or this function), unchecked."""
    data = np.empty(plan.nnz, np.float32)
    _gather(A.data, plan.perm, data)
    return _spmm_tiled(plan.indptr, plan.indices, data, full, rest, A.shape[1], bias, kind)


# A network's layers in one call (:func:`layers_forward_tiled`). Where the slabs split evenly
# between the threads (or there are 8 or more per thread), each thread takes whole slabs from
# the input to the last layer: no wait between layers, and a slab's activations stay in one
# core's cache. Otherwise (fewer slabs, or an uneven count) every layer's rows are shared out,
# a parallel region per layer. Either way each output row of a slab is one call of the same loop, so the results are
# the same to the bit. Measured on the 2-core Xeon with the 95% model (``benchmarks/model.py``,
# ms per ``logits``, same run, with the dense output layer through :func:`dense_plan`): 0.87-0.88
# against 1.02-1.03 one layer per call at batch 256; 2.77-2.79 against 3.32-3.44 in two row
# blocks of 500 at batch 1,000. The gather of the values stays serial: a parallel region for
# 95,000 values cost more than it saved (0.085 ms against 0.034), and a parallel region of its
# own inside the call, one share of the values per slab, gained nothing either (0.836 against
# 0.821 ms per ``logits`` at batch 256, 2.83 against 2.84 at 1,000, same run).

@njit(cache=True, nogil=True)
def _gather_layers(values, perms, datas):
    for l in range(len(values)):
        _gather(values[l], perms[l], datas[l])


@njit(cache=True, fastmath=True, inline="always")
def _layer_slab(indptrs, indices, datas, biases, kinds, full, rest, outs_full, outs_rest, l, q,
                start, stop):
    """Rows start..stop of slab q of layer l's outputs; layer 0 reads the input tiles."""
    if l == 0:
        _spmm_slab(indptrs[0], indices[0], datas[0], full, rest, outs_full[0], outs_rest[0], q,
                   start, stop, biases[0], kinds[0])
    else:
        _spmm_slab(indptrs[l], indices[l], datas[l], outs_full[l - 1], outs_rest[l - 1],
                   outs_full[l], outs_rest[l], q, start, stop, biases[l], kinds[l])


@njit(cache=True, fastmath=True, nogil=True)
def _layers_tiled_serial(x, full, rest, indptrs, indices, datas, biases, kinds, outs_full,
                         outs_rest):
    nonfinite = 0
    for q in range(full.shape[0] + (1 if rest.shape[1] else 0)):
        nonfinite |= _transpose_slab(x, full, rest, q)
        for l in range(len(indptrs)):
            _layer_slab(indptrs, indices, datas, biases, kinds, full, rest, outs_full,
                        outs_rest, l, q, 0, outs_rest[l].shape[0])
    return nonfinite


@njit(cache=True, fastmath=True, parallel=True)
def _layers_tiled_by_slab(x, full, rest, indptrs, indices, datas, biases, kinds, outs_full,
                          outs_rest):
    slabs = full.shape[0] + (1 if rest.shape[1] else 0)
    nonfinite = np.zeros(slabs, np.int32)
    for q in prange(slabs):
        nonfinite[q] = _transpose_slab(x, full, rest, q)
        for l in range(len(indptrs)):
            _layer_slab(indptrs, indices, datas, biases, kinds, full, rest, outs_full,
                        outs_rest, l, q, 0, outs_rest[l].shape[0])
    return nonfinite.any()


@njit(cache=True, fastmath=True, parallel=True)
def _layers_tiled_by_rows(x, full, rest, indptrs, indices, datas, biases, kinds, outs_full,
                          outs_rest, n_chunks):
    slabs = full.shape[0] + (1 if rest.shape[1] else 0)
    nonfinite = np.zeros(slabs, np.int32)
    for q in prange(slabs):
        nonfinite[q] = _transpose_slab(x, full, rest, q)
    for l in range(len(indptrs)):
        bounds = _balanced_row_chunks(indptrs[l], n_chunks)
        n_rows = bounds.shape[0] - 1
        for u in prange(n_rows * slabs):
            q, c = u // n_rows, u % n_rows
            _layer_slab(indptrs, indices, datas, biases, kinds, full, rest, outs_full,
                        outs_rest, l, q, bounds[c], bounds[c + 1])
    return nonfinite.any()


# Buffers of :func:`layers_forward_tiled` kept for the calling thread's next call with
# ``scratch=True`` (a model's ``logits`` and training step), when they fit in this many bytes.
# Fresh buffers cost their allocation and, as they come from memory rather than the cache, part
# of the first pass that writes them. Measured on the 2-core Xeon (AVX-512; 95% model, median ms
# per ``logits`` over 16 rounds of 10 different MNIST batches, same run): 0.82 against 0.92 at
# batch 256, 2.84 against 2.96 at 1,000. 16 MiB holds a batch of 1,000 of the
# 784-1000-800-400-10 model (12 MiB) but not the 8,192-sample chunks of ``accuracy``, which would
# tie up 100 MB per thread.
SCRATCH_MAX_BYTES = 16 << 20
_scratch = threading.local()


def _tiled_buffers(n, m, plans, scratch):
    """``(full, rest, datas, outs_full, outs_rest)`` for :func:`layers_forward_tiled`: the
    calling thread's kept ones when ``scratch`` and their shapes fit, else new ones (kept
    when ``scratch`` and within :data:`SCRATCH_MAX_BYTES`)."""
    t, r = tile_counts(n)
    key = (t, r, m) + tuple((p.nnz, p.shape[1]) for p in plans)
    if scratch and getattr(_scratch, "key", None) == key:
        return _scratch.buffers
    widths = [p.shape[1] for p in plans]
    buffers = (aligned_empty((t, m, TILE)), aligned_empty((m, r)),
               tuple(np.empty(p.nnz, np.float32) for p in plans),
               tuple(aligned_empty((t, k, TILE)) for k in widths),
               tuple(aligned_empty((k, r)) for k in widths))
    if scratch and 4 * ((t * TILE + r) * (m + sum(widths)) + sum(p.nnz for p in plans)) \
            <= SCRATCH_MAX_BYTES:
        _scratch.key, _scratch.buffers = key, buffers
    return buffers


def layers_forward_tiled(x, values, biases, kinds, plans, scratch=False):
    """A batch through sparse layers one after the other, in the tiled layout, in one call.

    Parameters
    ----------
    x : ndarray of float32, shape (n, m), C-contiguous, n >= ``TILE``
    values : list of float32 arrays
        Layer l's weights (m_l, k_l) in the storage order of its plan: a CSR matrix's
        ``data``, or a dense matrix's flattened rows with the plan of :func:`dense_plan`.
        m_0 = m and m_{l+1} = k_l.
    biases : list of float32 arrays (k_l,)
    kinds : list of int, the activation codes of :mod:`.dense`
    plans : list of :class:`TransposePlan`
    scratch : bool
        Write into buffers that the calling thread reuses (see :data:`SCRATCH_MAX_BYTES`): the
        arrays returned are then valid only until the thread's next call with
        ``scratch=True``; copy what must outlive it.

    Returns
    -------
    acts : list of ``(full, rest)``
        The tiled input (:func:`tiled_input`), then ``act(A_l.T @ ...)`` of each layer in the
        same layout (:func:`layer_forward_tiled`, bitwise).
    finite : bool
        False when ``x`` holds a NaN or an infinity.

    Unchecked (the model checks its layers once).
    """
    n, m = x.shape
    t, r = tile_counts(n)
    full, rest, datas, outs_full, outs_rest = _tiled_buffers(n, m, plans, scratch)
    _gather_layers(tuple(values), tuple(p.perm for p in plans), datas)
    args = (x, full, rest, tuple(p.indptr for p in plans), tuple(p.indices for p in plans),
            datas, tuple(biases), np.asarray(kinds, np.int64), outs_full, outs_rest)
    slabs, threads = t + (1 if r else 0), get_num_threads()
    if x.size < PARALLEL_MIN_WORK or serial_here():
        nonfinite = _layers_tiled_serial(*args)
    elif slabs % threads == 0 or slabs >= 8 * threads:
        nonfinite = _layers_tiled_by_slab(*args)
    else:
        nonfinite = _layers_tiled_by_rows(*args, _n_chunks())
    return [(full, rest)] + list(zip(outs_full, outs_rest)), not nonfinite


@functools.lru_cache(maxsize=16)
def dense_plan(m, k):
    """The :class:`TransposePlan` of a dense (m, k) matrix seen as CSR with every entry stored:
    with it, the flattened rows of a dense layer's weights go through
    :func:`layers_forward_tiled` like a CSR layer's values (the output layer of a model whose
    hidden layers are CSR: its product then runs on the core that computed its inputs)."""
    indptr = np.arange(0, (m + 1) * k, k, dtype=np.int64)
    indices = np.tile(np.arange(k, dtype=np.int64), m)
    return TransposePlan(sp.csr_matrix((np.ones(m * k, np.float32), indices, indptr), shape=(m, k)))


def layer_back_product_tiled(A, full, rest):
    """:func:`layer_back_product` in the tiled layout: ``A @`` each tile, for ``A`` (m, k),
    ``full`` (t, k, ``TILE``), ``rest`` (k, r); returns tiles (t, m, ``TILE``) and (m, r)."""
    return _spmm_tiled(A.indptr, A.indices, A.data, full, rest, A.shape[0])


@njit(cache=True, inline="always")
def _dot_lanes(acc, x, y, i, k, width):
    """``acc`` plus ``x[i, :width] * y[k, :width]``, 16 samples per lane vector, in order."""
    for c in range(0, width, 16):
        acc = lanes_add_product(acc, lanes_load(x, i, c), lanes_load(y, k, c))
    return acc


@njit(cache=True, inline="always")
def _dot_lanes4(acc, x, y, i, k, width):
    """:func:`_dot_lanes` for four rows ``k`` of ``y`` (and four accumulators ``acc``), which
    share each load of ``x[i]``."""
    a0, a1, a2, a3 = acc
    for c in range(0, width, 16):
        xc = lanes_load(x, i, c)
        a0 = lanes_add_product(a0, xc, lanes_load(y, k[0], c))
        a1 = lanes_add_product(a1, xc, lanes_load(y, k[1], c))
        a2 = lanes_add_product(a2, xc, lanes_load(y, k[2], c))
        a3 = lanes_add_product(a3, xc, lanes_load(y, k[3], c))
    return a0, a1, a2, a3


@njit(cache=True, inline="always")
def _sddmm_tiled_body(indptr, indices, x_full, x_rest, y_full, y_rest, out, start, stop):
    """``out[p] = sum over the samples of x[i] * y[indices[p]]`` for the nonzeros p of rows
    start..stop, the samples in the tiled layout (tiles, then the slab; rows a multiple of 16
    floats). Each sum runs in 16 lanes (:mod:`._tile`'s ``lanes``): lane l adds the samples
    l, l + 16, ... in order, one fused multiply-add each, then the lanes add up in a fixed
    tree; so the result does not depend on how LLVM compiled the loop (a loop left to LLVM's
    vectoriser summed in different orders when freshly compiled and when loaded from numba's
    cache). Four nonzeros at a time share each load of ``x``."""
    t, width, r = x_full.shape[0], x_full.shape[2], x_rest.shape[1]
    for i in range(start, stop):
        p = indptr[i]
        end = indptr[i + 1]
        while p + 3 < end:
            k = (indices[p], indices[p + 1], indices[p + 2], indices[p + 3])
            a = (lanes_zero(), lanes_zero(), lanes_zero(), lanes_zero())
            for q in range(t):
                a = _dot_lanes4(a, x_full[q], y_full[q], i, k, width)
            a = _dot_lanes4(a, x_rest, y_rest, i, k, r)
            out[p], out[p + 1] = lanes_sum(a[0]), lanes_sum(a[1])
            out[p + 2], out[p + 3] = lanes_sum(a[2]), lanes_sum(a[3])
            p += 4
        while p < end:
            k = indices[p]
            a = lanes_zero()
            for q in range(t):
                a = _dot_lanes(a, x_full[q], y_full[q], i, k, width)
            out[p] = lanes_sum(_dot_lanes(a, x_rest, y_rest, i, k, r))
            p += 1


@njit(cache=True, fastmath=True)
def _sddmm_tiled_rows(indptr, indices, x_full, x_rest, y_full, y_rest, out, start, stop):
    wide_vectors()  # a 16-lane vector in one 512-bit register, where the CPU has them
    _sddmm_tiled_body(indptr, indices, x_full, x_rest, y_full, y_rest, out, start, stop)


@njit(cache=True, fastmath=True, nogil=True)
def _sddmm_tiled_serial(indptr, indices, x_full, x_rest, y_full, y_rest, out):
    _sddmm_tiled_rows(indptr, indices, x_full, x_rest, y_full, y_rest, out, 0,
                      indptr.shape[0] - 1)


@njit(cache=True, fastmath=True, parallel=True)
def _sddmm_tiled_parallel(indptr, indices, x_full, x_rest, y_full, y_rest, out, n_chunks):
    bounds = _balanced_row_chunks(indptr, n_chunks)
    for c in prange(bounds.shape[0] - 1):
        _sddmm_tiled_rows(indptr, indices, x_full, x_rest, y_full, y_rest, out, bounds[c],
                          bounds[c + 1])


def layer_weight_gradient_tiled(A, x, y, out=None):
    """:func:`layer_weight_gradient` in the tiled layout: ``(x.T @ y)`` at the nonzeros of
    ``A`` (m, k), in ``A.data`` order, for ``x = (full, rest)`` of m features and
    ``y = (full, rest)`` of k features, the same samples. ``out`` float32 (nnz,) or None."""
    nnz = int(A.indptr[-1])
    if out is None:
        out = np.empty(nnz, np.float32)
    samples = x[0].shape[0] * TILE + x[1].shape[1]
    if nnz * samples >= PARALLEL_MIN_WORK and not serial_here():
        _sddmm_tiled_parallel(A.indptr, A.indices, *x, *y, out, _n_chunks())
    else:
        _sddmm_tiled_serial(A.indptr, A.indices, *x, *y, out)
    return out


@njit(cache=True, fastmath=True, inline="always")
def _act_grad_feature(e_full, e_rest, a_full, a_rest, kind, j):
    """Feature j of the errors in the tiled layout: ``e <- e * act'(a)``; returns their sum."""
    s = np.float32(0.0)
    for q in range(e_full.shape[0]):
        row = e_full[q, j]
        _act_grad_row(row, a_full[q, j], kind)
        for c in range(row.shape[0]):  # not TILE: see _sddmm_tiled_body
            s += row[c]
    row = e_rest[j]
    _act_grad_row(row, a_rest[j], kind)
    for c in range(row.shape[0]):
        s += row[c]
    return s


@njit(cache=True, fastmath=True, nogil=True)
def _act_grad_tiled_serial(e_full, e_rest, a_full, a_rest, kind, sums):
    for j in range(sums.shape[0]):
        sums[j] = _act_grad_feature(e_full, e_rest, a_full, a_rest, kind, j)


@njit(cache=True, fastmath=True, parallel=True)
def _act_grad_tiled_parallel(e_full, e_rest, a_full, a_rest, kind, sums):
    for j in prange(sums.shape[0]):
        sums[j] = _act_grad_feature(e_full, e_rest, a_full, a_rest, kind, j)


def act_grad_tiled_(e, a, kind):
    """In the tiled layout, in place: ``e <- e * act'(z)`` with act' computed from the
    activations ``a = act(z)`` (as :func:`.dense.act_grad_`), for ``e`` and ``a`` as ``(full,
    rest)``; returns the errors summed over the samples, float32 (features,): the bias
    gradient of the layer they belong to, taken while each row is in cache (numpy's sum over
    the tiles took as long as the element-wise pass)."""
    sums = np.empty(e[1].shape[0], np.float32)
    if e[0].size + e[1].size >= PARALLEL_MIN_WORK and not serial_here():
        _act_grad_tiled_parallel(*e, *a, kind, sums)
    else:
        _act_grad_tiled_serial(*e, *a, kind, sums)
    return sums


@njit(cache=True, nogil=True)
def _untile(full, rest, out):
    t = full.shape[0]
    for q in range(t):
        _transpose_columns(full[q], out[q * TILE:(q + 1) * TILE], 0, full.shape[2])
    _transpose_columns(rest, out[t * TILE:], 0, rest.shape[1])


def untiled(full, rest):
    """The samples of a tiled layout as rows: (t * ``TILE`` + r, k) for ``full`` (t, k,
    ``TILE``) and ``rest`` (k, r), C-contiguous."""
    out = aligned_empty((full.shape[0] * TILE + rest.shape[1], rest.shape[0]))
    _untile(full, rest, out)
    return out


def csr_matrix_f32(W):
    """A float32 CSR matrix with sorted indices, duplicates summed and explicit zeros removed.

    Parameters
    ----------
    W : array_like or scipy.sparse matrix/array, shape (m, k)
        Real numbers.

    Returns
    -------
    scipy.sparse.csr_matrix of float32, shape (m, k)
        A new matrix (never a view of ``W``'s buffers).
    """
    sparse = sp.issparse(W)
    if not sparse:
        W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-D array; got shape {W.shape}")
    if np.iscomplexobj(W) or not (np.issubdtype(W.dtype, np.number) or W.dtype == np.bool_):
        raise TypeError(f"W must hold real numbers; got dtype {W.dtype}")
    if sparse:
        M = sp.csr_matrix(W, dtype=np.float32, copy=True)
    else:
        M = sp.csr_matrix(W.astype(np.float32, copy=False))
    M.sum_duplicates()  # also sorts the indices
    M.eliminate_zeros()
    return M


# ------------------------------------------------------------------------ helpers

def check_chain(a_shape, b_shape, transposed=False):
    """Raise a ValueError naming both shapes unless ``A @ B`` (``A.T @ B``) is defined."""
    m, k = a_shape
    if transposed and b_shape[0] != m:
        raise ValueError(f"A.T and B do not chain: A has shape {tuple(a_shape)}, B has shape "
                         f"{tuple(b_shape)}; B needs {m} rows (A's row count)")
    if not transposed and b_shape[0] != k:
        raise ValueError(f"A and B do not chain: A has shape {tuple(a_shape)}, B has shape "
                         f"{tuple(b_shape)}; B needs {k} rows")


def check_sampled(a_shape, x_shape, y_shape):
    """Raise a ValueError unless ``X @ Y`` has the shape of ``A`` (for SDDMM)."""
    if x_shape[0] != a_shape[0] or y_shape[0] != x_shape[1] or y_shape[1] != a_shape[1]:
        raise ValueError(f"X @ Y must have A's shape {tuple(a_shape)} (X (m, d), Y (d, k)); got "
                         f"X of shape {tuple(x_shape)} and Y of shape {tuple(y_shape)}")


def _n_chunks():
    # only balances the work: results do not depend on the number of chunks
    return _CHUNKS_PER_THREAD * get_num_threads()


def _wide_rows(a):
    """Whether every row of the C-contiguous 2-D ``a`` starts at a 64-byte boundary, so that
    the 512-bit twins of the kernels may run on it. Where rows straddle cache lines (a batch of
    250: rows of 1000 bytes) the 256-bit kernels are faster: measured on the 2-core Xeon, the
    95% model's products at batch 250 ran at 28-30 GF/s with 512-bit vectors, 31-33 with 256."""
    return a.shape[1] % 16 == 0 and a.ctypes.data % ALIGN == 0


def _spmm(indptr, indices, data, B, out, bias=_NO_BIAS, kind=LINEAR):
    wide = _wide_rows(B) and _wide_rows(out)
    if int(indptr[-1]) * B.shape[1] >= PARALLEL_MIN_WORK and not serial_here():
        _spmm_parallel(indptr, indices, data, B, out, bias, kind, _n_chunks(), COLUMN_TILE,
                       wide)
    else:
        _spmm_serial(indptr, indices, data, B, out, bias, kind, COLUMN_TILE, wide)


def _check_transposed(A, B, plan):
    """The checked operands of ``A.T @ B`` and a plan that matches ``A`` (built when None)."""
    A = _check_csr(A, "A")
    B = _check_dense(B, "B")
    check_chain(A.shape, B.shape, transposed=True)
    if plan is None:
        plan = TransposePlan(A)
    elif not isinstance(plan, TransposePlan):
        raise TypeError(f"plan must be a TransposePlan or None; got {type(plan).__name__}")
    elif not plan.matches(A):
        raise ValueError(f"plan does not match A: plan is for shape {plan.shape} with "
                         f"nnz={plan.nnz}, A has shape {A.shape} with nnz={_nnz(A)} (or other "
                         f"row pointers); build a new TransposePlan(A)")
    return A, B, plan


def check_bias(bias, k):
    """``bias`` as a float32 vector (k,), or a ValueError naming the expected shape."""
    bias = np.asarray(bias)
    if bias.shape != (k,) or np.iscomplexobj(bias) or not np.issubdtype(bias.dtype, np.number):
        raise ValueError(f"bias must be a real vector of shape ({k},) (A's column count); got "
                         f"{bias.dtype} array of shape {bias.shape}")
    return np.ascontiguousarray(bias, dtype=np.float32)


def check_activation(activation):
    """An activation name or code as its code in :mod:`.dense`."""
    if isinstance(activation, str) and activation in ACTIVATIONS:
        return ACTIVATIONS[activation]
    if (isinstance(activation, (int, np.integer)) and not isinstance(activation, bool)
            and int(activation) in ACTIVATIONS.values()):
        return int(activation)
    raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)} or their codes "
                     f"{tuple(ACTIVATIONS.values())}; got {activation!r}")


def _real(dtype):
    """Whether ``dtype`` holds real numbers (booleans, integers or floats; not complex)."""
    return dtype.kind in "biuf"


def _check_csr(A, name):
    if sp.issparse(A):
        if A.format != "csr":
            raise TypeError(f"{name} must be a scipy.sparse CSR matrix; got format "
                            f"'{A.format}' ({type(A).__name__}): call {name}.tocsr() first")
        if len(A.shape) != 2:
            raise ValueError(f"{name} must be 2-D; got shape {A.shape}")
        if not _real(A.data.dtype):
            raise TypeError(f"{name} must hold real numbers; got dtype {A.data.dtype}")
        if A.indptr.shape[0] != A.shape[0] + 1:
            raise ValueError(f"{name} is not a valid CSR matrix: indptr has "
                             f"{A.indptr.shape[0]} entries for {A.shape[0]} rows")
        if A.data.shape[0] < A.indptr[-1]:
            raise ValueError(f"{name} is not a valid CSR matrix: data has {A.data.shape[0]} "
                             f"entries, indptr says nnz={A.indptr[-1]}")
        return A
    if isinstance(A, np.ndarray):
        raise TypeError(f"{name} must be a scipy.sparse CSR matrix; got a dense ndarray: "
                        f"convert it with csr_matrix_f32({name})")
    raise TypeError(f"{name} must be a scipy.sparse CSR matrix; got {type(A).__name__}")


def _nnz(A):
    return int(A.indptr[-1])


def _index_arrays(A):
    """``indptr`` and ``indices`` as contiguous arrays of one integer type (numba specialises)."""
    indptr, indices = A.indptr, A.indices
    if indptr.dtype != indices.dtype:
        itype = np.promote_types(indptr.dtype, indices.dtype)
        indptr, indices = indptr.astype(itype), indices.astype(itype)
    return np.ascontiguousarray(indptr), np.ascontiguousarray(indices)


def _values(A):
    data = A.data[:_nnz(A)]
    if data.dtype != np.float32 or not data.flags.c_contiguous:
        data = np.ascontiguousarray(data, dtype=np.float32)
    return data


@njit(cache=True)
def _indptr_ok(indptr):
    if indptr.shape[0] == 0 or indptr[0] != 0:
        return False
    for i in range(indptr.shape[0] - 1):
        if indptr[i + 1] < indptr[i]:
            return False
    return True


@njit(cache=True)
def _index_range(indices, nnz):
    lo, hi = 0, 0
    if nnz > 0:
        lo, hi = indices[0], indices[0]
    for p in range(nnz):
        v = indices[p]
        lo = min(lo, v)
        hi = max(hi, v)
    return lo, hi


def _check_pattern(indptr, indices, n_cols, name):
    """Reject CSR arrays that would make a kernel read out of bounds (O(m + nnz), cheap)."""
    if not _indptr_ok(indptr):
        raise ValueError(f"{name} is not a valid CSR matrix: indptr must start at 0 and never "
                         f"decrease")
    nnz = int(indptr[-1])
    if indices.shape[0] < nnz:
        raise ValueError(f"{name} is not a valid CSR matrix: indices has {indices.shape[0]} "
                         f"entries, indptr says nnz={nnz}")
    lo, hi = _index_range(indices, nnz)
    if nnz and (lo < 0 or hi >= n_cols):
        raise ValueError(f"{name} has column indices in [{lo}, {hi}], outside [0, {n_cols - 1}]")


def _check_dense(x, name, transpose=False):
    """``x`` (or ``x.T``) as a 2-D float32 C-contiguous array, copied only when needed."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array; got shape {arr.shape}")
    if not _real(arr.dtype):
        raise TypeError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    if transpose:
        arr = arr.T
    if arr.dtype != np.float32 or not arr.flags.c_contiguous:
        copy = aligned_empty(arr.shape)
        copy[...] = arr
        arr = copy
    return arr


def _check_out(out, shape, name, *inputs):
    if out is None:
        return aligned_empty(shape)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy array; got {type(out).__name__}")
    if out.shape != shape or out.dtype != np.float32 or not out.flags.c_contiguous \
            or not out.flags.writeable:
        raise ValueError(f"{name} must be a writeable C-contiguous float32 array of shape "
                         f"{shape}; got {out.dtype} array of shape {out.shape}"
                         f"{'' if out.flags.c_contiguous else ', not C-contiguous'}")
    for x in inputs:
        if np.may_share_memory(out, x):
            raise ValueError(f"{name} must not overlap the input arrays")
    return out
