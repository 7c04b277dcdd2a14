"""One sample through a sparse layer: spmv_t (A.T @ x) and the batch-1 path of a CSR layer,
against SciPy and NumPy."""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sparana_lite as sl
from sparana_lite.kernels import csr
from sparana_lite.kernels.csr import (TransposePlan, csr_matrix_f32, layer_forward, spmv_t,
                                      spmm_t_bias_act)

from .reference import outputs_with_1_and_2_threads

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def scipy_spmv_t(A, x):
    """SciPy's A.T @ x in float64 (the reference, NaN and inf included)."""
    A64 = sp.csr_matrix((A.data.astype(np.float64), A.indices, A.indptr), shape=A.shape)
    return A64.T @ np.asarray(x, np.float64)


def close(actual, expected):
    expected = np.asarray(expected, np.float64)
    finite = np.isfinite(expected)
    scale = max(1.0, float(np.abs(expected[finite]).max(initial=0.0)))
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_array_equal(np.isposinf(actual), np.isposinf(expected))
    np.testing.assert_array_equal(np.isneginf(actual), np.isneginf(expected))
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=1e-4, atol=1e-4 * scale)


def raw_csr(rng, m, k, nnz_per_row, zero_rows=()):
    """A CSR matrix as raw arrays: unsorted column indices, duplicates, explicit zeros, and the
    rows in ``zero_rows`` empty."""
    indptr, indices, data = [0], [], []
    for i in range(m):
        n = 0 if i in zero_rows else int(rng.integers(0, nnz_per_row + 1))
        cols = rng.integers(0, k, n)                        # duplicates likely, unsorted
        vals = rng.standard_normal(n).astype(np.float32)
        vals[rng.random(n) < 0.2] = 0.0                     # explicit zeros
        indices.extend(cols)
        data.extend(vals)
        indptr.append(len(indices))
    A = sp.csr_matrix((np.array(data, np.float32), np.array(indices, np.int32),
                       np.array(indptr, np.int32)), shape=(m, k))
    return A


@PROPERTY
@given(m=st.integers(1, 40), k=st.integers(1, 40), per_row=st.integers(0, 12),
       zeros=st.floats(0, 1), seed=st.integers(0, 2**31 - 1))
def test_spmv_t_matches_scipy(m, k, per_row, zeros, seed):
    rng = np.random.default_rng(seed)
    A = raw_csr(rng, m, k, per_row, zero_rows={0})
    x = rng.standard_normal(m).astype(np.float32)
    x[rng.random(m) < zeros] = 0.0                          # skipped inputs
    close(spmv_t(A, x), scipy_spmv_t(A, x))


def test_nan_and_inf_propagate_as_in_scipy():
    """0 * inf is NaN: a zero input is skipped only where its row of weights is finite. Fails
    if the kernel skipped zero inputs unconditionally (outputs 1 and 3 would be finite)."""
    W = np.zeros((4, 5), np.float32)
    W[0, 0], W[0, 1] = 2.0, np.inf       # row 0: input 0 is zero, so 0 * inf -> NaN in column 1
    W[1, 2] = np.nan                     # row 1: input 1 is zero -> NaN in column 2
    W[2, 3], W[2, 1] = -np.inf, 1.0      # row 2: input 2 = 1 -> -inf in column 3, +1 in col 1
    W[3, 4] = 3.0
    A = sp.csr_matrix(W)
    x = np.array([0.0, 0.0, 1.0, np.nan], np.float32)   # a NaN input: its row's outputs NaN
    got = spmv_t(A, x)
    close(got, scipy_spmv_t(A, x))
    assert np.isnan(got[1]) and np.isnan(got[2]) and got[3] == -np.inf and np.isnan(got[4])
    assert got[0] == 0.0
    x2 = np.array([0.0, 0.0, 1.0, 1.0], np.float32)
    close(spmv_t(A, x2), scipy_spmv_t(A, x2))


def test_spmv_t_edge_shapes_and_conversions():
    rng = np.random.default_rng(1)
    A = sp.csr_matrix((3, 4), dtype=np.float32)                      # no nonzeros
    np.testing.assert_array_equal(spmv_t(A, np.ones(3)), np.zeros(4, np.float32))
    one = sp.csr_matrix(np.array([[2.5]], np.float32))
    np.testing.assert_array_equal(spmv_t(one, [2.0]), [5.0])
    W = rng.standard_normal((30, 20))
    W[rng.random(W.shape) < 0.7] = 0
    A64 = sp.csr_matrix(W)                                           # float64 values
    x = rng.standard_normal(60)[::2]                                 # float64, non-contiguous
    got = spmv_t(A64, x)
    assert got.dtype == np.float32
    close(got, W.T @ x)
    out = np.full(20, np.nan, np.float32)
    assert spmv_t(A64, x, out=out) is out
    close(out, W.T @ x)
    A64.indices = A64.indices.astype(np.int64)
    A64.indptr = A64.indptr.astype(np.int64)
    close(spmv_t(A64, x), W.T @ x)


def test_spmv_t_refuses_bad_input_clearly():
    A = sp.csr_matrix(np.eye(3, dtype=np.float32))
    with pytest.raises(ValueError, match="x needs 3 entries"):
        spmv_t(A, np.ones(4))
    with pytest.raises(ValueError, match="1-D"):
        spmv_t(A, np.ones((3, 1)))
    with pytest.raises(TypeError, match="real numbers"):
        spmv_t(A, np.ones(3, complex))
    with pytest.raises(TypeError, match="CSR"):
        spmv_t(np.eye(3), np.ones(3))
    with pytest.raises(ValueError, match="out must"):
        spmv_t(A, np.ones(3), out=np.empty(4, np.float32))


@pytest.mark.parametrize("kind", [0, 1, 2, 3])
def test_layer_forward_of_one_sample_is_the_batch_product(kind):
    """A CSR layer's batch-1 path (spmv) gives the batch path's column to float32 rounding."""
    rng = np.random.default_rng(2)
    A = csr_matrix_f32(rng.standard_normal((300, 120)) * (rng.random((300, 120)) < 0.1))
    plan = TransposePlan(A)
    bias = rng.standard_normal(120).astype(np.float32)
    B = rng.standard_normal((300, 2)).astype(np.float32)
    B[rng.random(300) < 0.5] = 0.0                      # zero inputs, skipped by the spmv
    one = layer_forward(A, np.ascontiguousarray(B[:, :1]), bias, kind, plan)
    assert one.shape == (120, 1)
    both = spmm_t_bias_act(A, B, bias, kind, plan=plan)
    np.testing.assert_allclose(one[:, 0], both[:, 0], rtol=1e-5, atol=1e-5)


def test_csr_model_single_images_match_the_batch_and_the_dense_model():
    rng = np.random.default_rng(3)
    model = sl.MLP([64, 96, 80, 10], head="lq", seed=3)
    pruned = sl.prune.prune(model, sl.prune.random(model, seed=3), ratio=0.95)
    sparse = pruned.to_sparse()
    x = rng.random((5, 64), dtype=np.float32)
    x[x < 0.6] = 0.0                                     # MNIST-like: most pixels zero
    whole = sparse.logits(x)
    single = np.concatenate([sparse.logits(x[i:i + 1]) for i in range(5)])
    np.testing.assert_allclose(single, whole, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(single, pruned.logits(x), rtol=1e-5, atol=1e-5)


_THREADS_SCRIPT = """
import sys
import numba
numba.set_num_threads(int(sys.argv[1]))
import numpy as np, scipy.sparse as sp
from sparana_lite.kernels import csr
import sparana_lite as sl
rng = np.random.default_rng(1)
W = rng.standard_normal((300, 200)).astype(np.float32)
W[rng.random(W.shape) < 0.9] = 0
x = rng.standard_normal(300).astype(np.float32)
x[rng.random(300) < 0.5] = 0
m = sl.prune.prune(sl.MLP([64, 96, 10], seed=1), sl.prune.random(sl.MLP([64, 96, 10], seed=1)),
                   ratio=0.9).to_sparse()
out = [csr.spmv_t(sp.csr_matrix(W), x), m.logits(rng.random((1, 64), dtype=np.float32))]
sys.stdout.buffer.write(b"".join(np.ascontiguousarray(o).tobytes() for o in out))
"""


def test_spmv_results_do_not_depend_on_thread_count():
    runs = outputs_with_1_and_2_threads(_THREADS_SCRIPT)
    assert len(runs[0]) > 0 and runs[0] == runs[1]
