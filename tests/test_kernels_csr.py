"""CSR kernels (sparana_lite.kernels.csr) against NumPy/SciPy references."""
import contextlib

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparana_lite.kernels import csr
from sparana_lite.kernels import dense
from sparana_lite.kernels.csr import (TransposePlan, csr_matrix_f32, sddmm, spmm, spmm_t,
                                      spmm_t_bias_act)

from . import reference as ref
from .reference import outputs_with_1_and_2_threads

PROPERTY = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def random_csr(rng, m, k, density, dtype=np.float32):
    W = rng.standard_normal((m, k)).astype(dtype)
    W[rng.random((m, k)) >= density] = 0
    return sp.csr_matrix(W), W


def close(actual, expected, scale=None):
    """float32 accumulation: compare relative to the scale of the result."""
    expected = np.asarray(expected, dtype=np.float64)
    if scale is None:
        scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-4 * scale)


def sddmm_reference(A, X, Y):
    """(X @ Y) at A's stored entries, in A.data order (whatever the index order)."""
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    return (np.asarray(X, np.float64) @ np.asarray(Y, np.float64))[rows, A.indices]


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@contextlib.contextmanager
def forced(parallel):
    """Send the public kernels to their parallel drivers (threshold 0) or serial twins, whatever
    the size (a context manager, since hypothesis tests cannot use function-scoped fixtures)."""
    saved = csr.PARALLEL_MIN_WORK
    csr.PARALLEL_MIN_WORK = 0 if parallel else 2**62
    try:
        yield
    finally:
        csr.PARALLEL_MIN_WORK = saved


@pytest.fixture(params=["serial", "parallel"])
def path(request):
    """Run a test through the serial twin or the parallel driver, whatever the size."""
    with forced(request.param == "parallel"):
        yield request.param


# ---------------------------------------------------------------- property tests

shapes = st.tuples(st.integers(1, 40), st.integers(1, 40), st.integers(1, 33))
densities = st.sampled_from([0.0, 0.05, 0.3, 1.0])


@PROPERTY
@given(shape=shapes, density=densities, seed=st.integers(0, 2**31 - 1),
       parallel=st.booleans())
def test_spmm_matches_numpy(shape, density, seed, parallel):
    """The raw driver and the public ``spmm``, both forced onto the drawn path, against NumPy.
    Fails if either path computes a wrong element or leaves one unwritten, or if the public
    kernel's parallel branch is broken (its shapes stay below PARALLEL_MIN_WORK: the path is
    forced)."""
    m, k, n = shape
    rng = np.random.default_rng(seed)
    A, W = random_csr(rng, m, k, density)
    B = rng.standard_normal((k, n)).astype(np.float32)
    kernel = csr._spmm_parallel if parallel else csr._spmm_serial
    out = np.full((m, n), np.nan, np.float32)  # every element must be written
    args = (A.indptr, A.indices, A.data, B, out, csr._NO_BIAS, csr.LINEAR)
    args += (3, 16) if parallel else (16,)  # column tiles of 16: n > 16 takes several
    kernel(*args)
    close(out, W.astype(np.float64) @ B)
    with forced(parallel):
        close(spmm(A, B), W.astype(np.float64) @ B)


@PROPERTY
@given(shape=shapes, density=densities, seed=st.integers(0, 2**31 - 1),
       parallel=st.booleans())
def test_spmm_t_matches_numpy(shape, density, seed, parallel):
    """Public ``spmm_t`` on the drawn path against NumPy; fails if the transpose plan or either
    path of the product it runs on computes a wrong element."""
    m, k, n = shape
    rng = np.random.default_rng(seed)
    A, W = random_csr(rng, m, k, density)
    B = rng.standard_normal((m, n)).astype(np.float32)
    with forced(parallel):
        close(spmm_t(A, B), W.T.astype(np.float64) @ B)


@PROPERTY
@given(shape=shapes, density=densities, seed=st.integers(0, 2**31 - 1),
       parallel=st.booleans(), activation=st.sampled_from(list(dense.ACTIVATIONS)))
def test_spmm_t_bias_act_matches_numpy(shape, density, seed, parallel, activation):
    """The fused forward ``act(A.T @ B + bias[:, None])`` on the drawn path against NumPy, and
    bitwise against the unfused ``spmm_t`` followed by ``bias_act_`` on its transpose (the
    path it replaces in a CSR layer); fails if the epilogue misses a row or uses another
    row's bias."""
    m, k, n = shape
    rng = np.random.default_rng(seed)
    A, W = random_csr(rng, m, k, density)
    B = rng.standard_normal((m, n)).astype(np.float32)
    bias = rng.standard_normal(k).astype(np.float32)
    expected = ref.ACT[activation][0](W.T.astype(np.float64) @ B + bias[:, None])
    with forced(parallel):
        fused = spmm_t_bias_act(A, B, bias, activation)
        unfused = dense.bias_act_(spmm_t(A, B).T, bias, dense.ACTIVATIONS[activation]).T
    close(fused, expected)
    np.testing.assert_array_equal(fused, unfused)


@PROPERTY
@given(shape=shapes, density=densities, seed=st.integers(0, 2**31 - 1),
       parallel=st.booleans())
def test_sddmm_matches_numpy(shape, density, seed, parallel):
    """The raw driver and the public ``sddmm``, both on the drawn path, against (X @ Y) at A's
    entries; fails if either path writes a wrong or no value at a stored entry."""
    m, k, d = shape
    rng = np.random.default_rng(seed)
    A, _ = random_csr(rng, m, k, density)
    X = rng.standard_normal((m, d)).astype(np.float32)
    Y = rng.standard_normal((d, k)).astype(np.float32)
    Yt = np.ascontiguousarray(Y.T)
    out = np.full(A.nnz, np.nan, np.float32)
    kernel = csr._sddmm_parallel if parallel else csr._sddmm_serial
    kernel(A.indptr, A.indices, X, Yt, out, *((3,) if parallel else ()))
    ref = sddmm_reference(A, X, Y)
    close(out, ref, scale=np.sqrt(d))
    with forced(parallel):
        close(sddmm(A, X, Y), ref, scale=np.sqrt(d))


@PROPERTY
@given(shape=shapes, seed=st.integers(0, 2**31 - 1), max_row=st.integers(0, 12),
       parallel=st.booleans())
def test_raw_csr_unsorted_with_duplicates(shape, seed, max_row, parallel):
    """CSR built by hand: empty rows, columns in random order, repeated columns, on the drawn
    path. Fails if a kernel assumes sorted or unique column indices, or sorts them in place."""
    m, k, n = shape
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, max_row + 1, size=m)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    indices = rng.integers(0, k, size=indptr[-1])       # with repeats, unsorted
    data = rng.standard_normal(indptr[-1]).astype(np.float32)
    A = sp.csr_matrix((data, indices, indptr), shape=(m, k))
    W = np.zeros((m, k))
    np.add.at(W, (np.repeat(np.arange(m), counts), indices), data)
    B = rng.standard_normal((k, n)).astype(np.float32)
    Bt = rng.standard_normal((m, n)).astype(np.float32)
    X = rng.standard_normal((m, n)).astype(np.float32)
    Y = rng.standard_normal((n, k)).astype(np.float32)
    scale = max(1.0, float(np.abs(data).sum()))
    with forced(parallel):
        close(spmm(A, B), W @ B, scale=scale)
        close(spmm_t(A, Bt), W.T @ Bt, scale=scale)
        close(sddmm(A, X, Y), sddmm_reference(A, X, Y), scale=np.sqrt(n))
    np.testing.assert_array_equal(A.indices, indices)  # nothing sorted in place


# ---------------------------------------------------------------- awkward inputs

@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 5, 3), (0, 4, 3), (4, 0, 3), (4, 3, 0)])
def test_degenerate_shapes(m, k, n, rng, path):
    A, W = random_csr(rng, m, k, 0.5)
    B = rng.standard_normal((k, n)).astype(np.float32)
    Bt = rng.standard_normal((m, n)).astype(np.float32)
    X = rng.standard_normal((m, n)).astype(np.float32)
    Y = rng.standard_normal((n, k)).astype(np.float32)
    close(spmm(A, B), W @ B)
    close(spmm_t(A, Bt), W.T @ Bt)
    close(sddmm(A, X, Y), sddmm_reference(A, X, Y))
    assert spmm(A, B).shape == (m, n) and spmm_t(A, Bt).shape == (k, n)


def test_empty_rows_and_no_nonzeros(rng, path):
    A, W = random_csr(rng, 50, 30, 0.2)
    W[::3] = 0
    A = sp.csr_matrix(W)
    B = rng.standard_normal((30, 17)).astype(np.float32)
    close(spmm(A, B), W @ B)
    Z = sp.csr_matrix((50, 30), dtype=np.float32)
    assert Z.nnz == 0
    np.testing.assert_array_equal(spmm(Z, B), 0)
    np.testing.assert_array_equal(spmm_t(Z, rng.standard_normal((50, 4))), 0)
    assert sddmm(Z, rng.standard_normal((50, 4)), rng.standard_normal((4, 30))).shape == (0,)


def test_all_dense(rng, path):
    A, W = random_csr(rng, 40, 60, 1.0)
    assert A.nnz == 40 * 60
    B = rng.standard_normal((60, 70)).astype(np.float32)
    close(spmm(A, B), W @ B)
    Bt = rng.standard_normal((40, 9)).astype(np.float32)
    close(spmm_t(A, Bt), W.T @ Bt)
    X, Y = rng.standard_normal((40, 5)), rng.standard_normal((5, 60))
    close(sddmm(A, X, Y), (X @ Y).ravel())


def test_unsorted_indices_and_duplicates(rng, path):
    # row 0: (0,2) twice and (0,0); row 2: columns in descending order
    indptr = np.array([0, 3, 3, 6])
    indices = np.array([2, 0, 2, 3, 1, 0])
    data = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], np.float32)
    A = sp.csr_matrix((data, indices, indptr), shape=(3, 4))
    assert not A.has_sorted_indices
    W = np.zeros((3, 4))
    for i in range(3):
        for p in range(indptr[i], indptr[i + 1]):
            W[i, indices[p]] += data[p]
    B = rng.standard_normal((4, 5)).astype(np.float32)
    Bt = rng.standard_normal((3, 5)).astype(np.float32)
    close(spmm(A, B), W @ B)
    close(spmm_t(A, Bt), W.T @ Bt)
    X = rng.standard_normal((3, 6)).astype(np.float32)
    Y = rng.standard_normal((6, 4)).astype(np.float32)
    out = sddmm(A, X, Y)
    full = X.astype(np.float64) @ Y
    close(out, [full[0, 2], full[0, 0], full[0, 2], full[2, 3], full[2, 1], full[2, 0]])
    # the inputs are not reordered in place
    np.testing.assert_array_equal(A.indices, indices)


def test_float64_and_int_inputs_are_converted(rng, path):
    A64, W = random_csr(rng, 20, 30, 0.3, dtype=np.float64)
    B = rng.standard_normal((30, 8))  # float64
    out = spmm(A64, B)
    assert out.dtype == np.float32
    close(out, W @ B)
    assert spmm_t(A64, rng.standard_normal((20, 3))).dtype == np.float32
    close(spmm(A64, np.ones((30, 2), np.int64)), W @ np.ones((30, 2)))
    X, Y = rng.standard_normal((20, 5)), rng.standard_normal((5, 30))
    got = sddmm(A64, X, Y)
    assert got.dtype == np.float32
    close(got, sddmm_reference(A64, X, Y))


def test_non_contiguous_inputs(rng, path):
    A, W = random_csr(rng, 25, 40, 0.3)
    big = rng.standard_normal((80, 30)).astype(np.float32)
    B_sliced = big[::2, 1:20]                                   # strided view (40, 19)
    B_fortran = np.asfortranarray(rng.standard_normal((40, 19)).astype(np.float32))
    for B in (B_sliced, B_fortran):
        close(spmm(A, B), W @ B)
    Bt = np.asfortranarray(rng.standard_normal((25, 6)).astype(np.float32))
    close(spmm_t(A, Bt), W.T @ Bt)
    X = np.asfortranarray(rng.standard_normal((25, 7)).astype(np.float32))
    Z = rng.standard_normal((40, 7)).astype(np.float32)
    Y_strided = rng.standard_normal((14, 80)).astype(np.float32)[::2, ::2]
    for Y in (Z.T, np.ascontiguousarray(Z.T), Y_strided):    # F-order, C-order, strided
        close(sddmm(A, X, Y), sddmm_reference(A, X, Y))
    X_sliced = rng.standard_normal((50, 7)).astype(np.float32)[::2]
    close(sddmm(A, X_sliced, Z.T), sddmm_reference(A, X_sliced, Z.T))


def test_int64_indices(rng, path):
    A, W = random_csr(rng, 30, 20, 0.4)
    A64 = A.copy()
    A64.indices, A64.indptr = A.indices.astype(np.int64), A.indptr.astype(np.int64)
    assert A64.indices.dtype == np.int64
    B = rng.standard_normal((20, 5)).astype(np.float32)
    close(spmm(A64, B), W @ B)
    Bt = rng.standard_normal((30, 5)).astype(np.float32)
    close(spmm_t(A64, Bt), W.T @ Bt)
    X, Y = rng.standard_normal((30, 4)), rng.standard_normal((4, 20))
    close(sddmm(A64, X, Y), sddmm_reference(A, X, Y))


def test_csr_array_accepted(rng):
    A, W = random_csr(rng, 10, 12, 0.5)
    B = rng.standard_normal((12, 3)).astype(np.float32)
    close(spmm(sp.csr_array(A), B), W @ B)
    Bt = rng.standard_normal((10, 2))
    close(spmm_t(sp.csr_array(A), Bt), W.T @ Bt)
    X, Y = rng.standard_normal((10, 3)), rng.standard_normal((3, 12))
    close(sddmm(sp.csr_array(A), X, Y), sddmm_reference(A, X, Y))


# ---------------------------------------------------------------- out= buffers

def test_out_buffers_are_used(rng, path):
    A, W = random_csr(rng, 30, 20, 0.3)
    B = rng.standard_normal((20, 6)).astype(np.float32)
    out = np.full((30, 6), np.nan, np.float32)
    assert spmm(A, B, out=out) is out
    close(out, W @ B)
    Bt = rng.standard_normal((30, 6)).astype(np.float32)
    out_t = np.full((20, 6), np.nan, np.float32)
    assert spmm_t(A, Bt, out=out_t) is out_t
    close(out_t, W.T @ Bt)
    X, Y = rng.standard_normal((30, 4)), rng.standard_normal((4, 20))
    out_v = np.full(A.nnz, np.nan, np.float32)
    assert sddmm(A, X, Y, out=out_v) is out_v
    close(out_v, sddmm_reference(A, X, Y))


@pytest.mark.parametrize("bad", [np.empty((30, 5), np.float32), np.empty((30, 6), np.float64),
                                 np.empty((6, 30), np.float32).T, [[0.0] * 6] * 30])
def test_bad_out_rejected(bad, rng):
    A, _ = random_csr(rng, 30, 20, 0.3)
    with pytest.raises((ValueError, TypeError), match="out"):
        spmm(A, rng.standard_normal((20, 6)), out=bad)


def test_out_overlapping_input_rejected(rng):
    A, _ = random_csr(rng, 20, 20, 0.3)
    B = rng.standard_normal((20, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="out must not overlap"):
        spmm(A, B, out=B)


# ---------------------------------------------------------------- errors name the argument

def test_wrong_types_and_shapes(rng):
    A, W = random_csr(rng, 6, 4, 0.5)
    B = np.ones((4, 3), np.float32)
    for fmt in ("csc", "coo", "lil"):
        with pytest.raises(TypeError, match=r"A must be a scipy.sparse CSR.*tocsr\(\)"):
            spmm(A.asformat(fmt), B)
    with pytest.raises(TypeError, match="A must be a scipy.sparse CSR.*dense"):
        spmm(W, B)
    with pytest.raises(TypeError, match="A must be"):
        spmm([[1.0]], B)
    with pytest.raises(ValueError, match=r"\(6, 4\).*\(5, 3\)"):
        spmm(A, np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"B must be a 2-D array; got shape \(4,\)"):
        spmm(A, np.ones(4))
    with pytest.raises(TypeError, match="B must hold real numbers"):
        spmm(A, np.ones((4, 3), complex))
    with pytest.raises(TypeError, match="B must hold real numbers"):
        spmm(A, np.array([["a"] * 3] * 4))
    with pytest.raises(ValueError, match=r"A\.T and B.*\(6, 4\).*\(4, 3\)"):
        spmm_t(A, np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"X.*\(6, 2\).*Y.*\(3, 4\)"):
        sddmm(A, np.ones((6, 2)), np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"X.*\(5, 2\)"):
        sddmm(A, np.ones((5, 2)), np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"Y must be a 2-D array"):
        sddmm(A, np.ones((6, 2)), np.ones(2))
    with pytest.raises(TypeError, match=r"A must hold real numbers"):
        spmm(sp.csr_matrix(np.eye(4, dtype=complex)), B)


def test_spmm_t_bias_act_refuses_bad_input_clearly(rng):
    A, _ = random_csr(rng, 6, 4, 0.5)
    B = np.ones((6, 3), np.float32)
    bias = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match=r"bias must be a real vector of shape \(4,\)"):
        spmm_t_bias_act(A, B, np.zeros(6), "relu")
    with pytest.raises(ValueError, match="bias must be a real vector"):
        spmm_t_bias_act(A, B, np.zeros(4, complex), "relu")
    for bad in ("softplus", 7, True, None):
        with pytest.raises(ValueError, match="activation must be one of"):
            spmm_t_bias_act(A, B, bias, bad)
    with pytest.raises(ValueError, match=r"A\.T and B"):
        spmm_t_bias_act(A, np.ones((4, 3)), bias, "relu")
    with pytest.raises(ValueError, match="plan does not match"):
        spmm_t_bias_act(A, B, bias, "relu", plan=TransposePlan(random_csr(rng, 5, 4, 0.5)[0]))
    with pytest.raises(ValueError, match="out must be"):
        spmm_t_bias_act(A, B, bias, "relu", out=np.empty((3, 4), np.float32))


def test_spmm_t_bias_act_takes_codes_float64_and_out(rng):
    A, W = random_csr(rng, 7, 5, 0.5)
    B = rng.standard_normal((7, 3))
    bias = rng.standard_normal(5)
    out = np.empty((5, 3), np.float32)
    assert spmm_t_bias_act(A, B, bias, dense.TANH, plan=TransposePlan(A), out=out) is out
    close(out, np.tanh(W.T.astype(np.float64) @ B + bias[:, None]))


def test_out_of_range_indices_rejected():
    A = sp.csr_matrix((np.ones(2, np.float32), np.array([0, 9]), np.array([0, 1, 2])),
                      shape=(2, 3))
    with pytest.raises(ValueError, match=r"A has column indices in \[0, 9\]"):
        spmm(A, np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"A has column indices"):
        TransposePlan(A)
    with pytest.raises(ValueError, match=r"A has column indices"):
        sddmm(A, np.ones((2, 2)), np.ones((2, 3)))


def test_corrupt_indptr_rejected():
    A = sp.csr_matrix((np.ones(2, np.float32), np.array([0, 1]), np.array([0, 1, 2])),
                      shape=(2, 3))
    A.indptr = np.array([0, 3, 2], dtype=A.indptr.dtype)  # row 0 would read past the end
    with pytest.raises(ValueError, match="A is not a valid CSR matrix: indptr"):
        spmm(A, np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="A is not a valid CSR matrix: indptr"):
        TransposePlan(A)
    A.indptr = np.array([0, 1, 5], dtype=A.indptr.dtype)
    with pytest.raises(ValueError, match="A is not a valid CSR matrix: data has 2"):
        sddmm(A, np.ones((2, 2)), np.ones((2, 3)))


# ---------------------------------------------------------------- transpose plan

def test_plan_pattern_and_refresh(rng, path):
    """The plan is A.T's pattern, stays valid when the values change, and ``transpose_data``
    writes the new values into ``out`` in A.T's order. Fails if the pattern or permutation is
    wrong, or if ``out`` is returned without being written."""
    A, W = random_csr(rng, 40, 25, 0.3)
    plan = TransposePlan(A)
    AT = A.T.tocsr()
    AT.sort_indices()
    np.testing.assert_array_equal(plan.indptr, AT.indptr)
    np.testing.assert_array_equal(plan.indices, AT.indices)
    np.testing.assert_array_equal(plan.transpose_data(A.data), AT.data)
    assert plan.matches(A) and plan.matches(A, check_indices=True)

    B = rng.standard_normal((40, 7)).astype(np.float32)
    close(spmm_t(A, B, plan=plan), W.T @ B)
    # training changes the values, never the pattern: the plan stays valid
    A.data[:] = rng.standard_normal(A.nnz).astype(np.float32)
    W2 = A.toarray()
    close(spmm_t(A, B, plan=plan), W2.T @ B)
    out = np.full(A.nnz, np.nan, np.float32)
    assert plan.transpose_data(A.data, out=out) is out
    AT2 = A.T.tocsr()
    AT2.sort_indices()
    np.testing.assert_array_equal(out, AT2.data)  # the new values, in the transpose's order


def test_plan_mismatch_rejected(rng):
    A, _ = random_csr(rng, 40, 25, 0.3)
    plan = TransposePlan(A)
    B = rng.standard_normal((40, 3)).astype(np.float32)
    other, _ = random_csr(rng, 40, 25, 0.5)
    assert not plan.matches(other)
    with pytest.raises(ValueError, match="plan does not match A"):
        spmm_t(other, B, plan=plan)
    assert not plan.matches(sp.csr_matrix((40, 26), dtype=np.float32))
    with pytest.raises(TypeError, match="plan must be a TransposePlan"):
        spmm_t(A, B, plan="yes")
    # same row lengths, other columns: only the full check sees it
    moved = A.copy()
    moved.indices = (moved.indices + 1) % 25
    assert plan.matches(moved) and not plan.matches(moved, check_indices=True)
    with pytest.raises(ValueError, match="data must be a 1-D array"):
        plan.transpose_data(np.ones(3))


def test_plan_with_unsorted_duplicates(rng):
    A = sp.csr_matrix((np.array([1.0, 2.0, 3.0, 4.0], np.float32), np.array([2, 0, 2, 1]),
                       np.array([0, 3, 4])), shape=(2, 3))
    plan = TransposePlan(A)
    assert plan.matches(A, check_indices=True)
    B = rng.standard_normal((2, 4)).astype(np.float32)
    W = np.array([[2.0, 0, 4.0], [0, 4.0, 0]])
    close(spmm_t(A, B, plan=plan), W.T @ B)


# ---------------------------------------------------------------- csr_matrix_f32

def test_csr_matrix_f32():
    W = np.array([[0.0, 1.5, 0.0], [0.0, 0.0, 0.0], [2.0, 0.0, -1.0]])
    M = csr_matrix_f32(W)
    assert isinstance(M, sp.csr_matrix) and M.dtype == np.float32
    assert M.nnz == 3 and M.has_sorted_indices
    np.testing.assert_array_equal(M.toarray(), W)
    coo = sp.coo_matrix((np.array([1.0, 0.0, 2.0]), (np.array([1, 0, 1]), np.array([2, 0, 0]))),
                        shape=(2, 3))
    M2 = csr_matrix_f32(coo)
    assert M2.nnz == 2 and M2.has_sorted_indices and M2.dtype == np.float32
    unsorted = sp.csr_matrix((np.array([1.0, 0.0, 2.0, 3.0]), np.array([2, 1, 0, 2]),
                              np.array([0, 4, 4])), shape=(2, 3))
    M3 = csr_matrix_f32(unsorted)
    np.testing.assert_array_equal(M3.toarray(), [[2.0, 0.0, 4.0], [0, 0, 0]])
    assert M3.nnz == 2 and M3.has_sorted_indices
    assert unsorted.nnz == 4  # the argument is untouched
    with pytest.raises(ValueError, match="W must be a 2-D"):
        csr_matrix_f32(np.ones(3))
    with pytest.raises(TypeError, match="W must hold real"):
        csr_matrix_f32(np.ones((2, 2), complex))


# ---------------------------------------------------------------- thread independence

_THREADS_SCRIPT = """
import sys, numba, numpy as np, scipy.sparse as sp
numba.set_num_threads(int(sys.argv[1]))
from sparana_lite.kernels import csr
rng = np.random.default_rng(1)
W = rng.standard_normal((300, 200)).astype(np.float32)
W[rng.random(W.shape) < 0.7] = 0
A = sp.csr_matrix(W)
from sparana_lite.kernels._codegen import aligned_empty
B = aligned_empty((200, 272))  # aligned rows: two register tiles of 128 columns and 16 more
B[...] = rng.standard_normal((200, 272))
out = [csr.spmm(A, B), csr.transpose(rng.standard_normal((272, 200)).astype(np.float32)),
       csr.spmm(A, rng.standard_normal((200, 37)).astype(np.float32)),
       csr.spmm(A, rng.standard_normal((200, 64)).astype(np.float32)),
       csr.sddmm(A, rng.standard_normal((300, 64)), rng.standard_normal((64, 200))),
       csr.spmm_t(A, rng.standard_normal((300, 37)).astype(np.float32)),
       csr.sddmm(A, rng.standard_normal((300, 29)), rng.standard_normal((29, 200)))]
full, rest, _ = csr.tiled_input(rng.standard_normal((400, 300)).astype(np.float32))
out += list(csr.layer_forward_tiled(A, full, rest, np.ones(200, np.float32), 1,
                                    csr.TransposePlan(A)))
A2 = sp.csr_matrix(W[:200, :120])
for n in (256, 300):  # two threads: whole slabs each, then each layer's rows shared out
    acts, _ = csr.layers_forward_tiled(rng.standard_normal((n, 300)).astype(np.float32),
                                       [A.data, A2.data], [np.ones(200, np.float32), np.zeros(120, np.float32)],
                                       [1, 0], [csr.TransposePlan(A), csr.TransposePlan(A2)])
    out += [a for pair in acts[1:] for a in pair]
errors = csr.tiled_input(rng.standard_normal((400, 200)).astype(np.float32))[:2]
out += list(csr.layer_back_product_tiled(A, *errors))
out.append(csr.layer_weight_gradient_tiled(A, (full, rest), errors))
out.append(csr.act_grad_tiled_(errors, (np.abs(errors[0]), np.abs(errors[1])), 1))
out += list(errors)
sys.stdout.buffer.write(b"".join(np.ascontiguousarray(o).tobytes() for o in out))
"""


def test_results_do_not_depend_on_thread_count():
    """Bitwise equal results with 1 and 2 numba threads (fresh processes, parallel path)."""
    runs = outputs_with_1_and_2_threads(_THREADS_SCRIPT)
    assert len(runs[0]) > 0 and runs[0] == runs[1]


def test_serial_and_parallel_paths_agree_bitwise(rng):
    A, _ = random_csr(rng, 200, 150, 0.3)
    B = rng.standard_normal((150, 64)).astype(np.float32)
    X = rng.standard_normal((200, 48)).astype(np.float32)
    Yt = rng.standard_normal((150, 48)).astype(np.float32)
    ser, par = np.empty((200, 64), np.float32), np.empty((200, 64), np.float32)
    no_bias = (csr._NO_BIAS, csr.LINEAR)
    csr._spmm_serial(A.indptr, A.indices, A.data, B, ser, *no_bias, csr.COLUMN_TILE)
    for chunks in (1, 2, 7, 64):
        for tile in (16, 32, csr.COLUMN_TILE):  # column tiles do not change a result either
            par[...] = np.nan
            csr._spmm_parallel(A.indptr, A.indices, A.data, B, par, *no_bias, chunks, tile)
            np.testing.assert_array_equal(par, ser)
    v_ser, v_par = np.empty(A.nnz, np.float32), np.empty(A.nnz, np.float32)
    csr._sddmm_serial(A.indptr, A.indices, X, Yt, v_ser)
    csr._sddmm_parallel(A.indptr, A.indices, X, Yt, v_par, 5)
    np.testing.assert_array_equal(v_par, v_ser)


@pytest.mark.parametrize("shape", [(0, 3), (1, 1), (7, 5), (300, 37), (256, 784)])
def test_transpose_copies_into_the_c_layout(path, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    xt = csr.transpose(x)
    assert xt.flags.c_contiguous and xt.dtype == np.float32
    np.testing.assert_array_equal(xt, x.T)
    assert not np.may_share_memory(xt, x) or min(shape) <= 1  # else x.T is C-contiguous
    f = np.asfortranarray(x)
    assert csr.transpose(f).base is f  # an F-ordered x: its transpose, no copy
    np.testing.assert_array_equal(csr.transpose(x[:, ::2]), x[:, ::2].T)
    x64 = x.astype(np.float64)
    assert csr.transpose(x64).dtype == np.float64 and csr.transpose(x64).flags.c_contiguous


@pytest.mark.parametrize("n, m", [(1, 784), (13, 40), (128, 37), (250, 784), (512, 20),
                                  (1000, 784)])
def test_padded_input_is_the_padded_batch_transposed(path, n, m):
    """``padded_input(x)`` is ``padded_batch(x).T`` bit for bit, C-contiguous, with aligned
    rows where the batch is padded, and reports a finite batch as finite. Shapes cover the
    single sample, unpadded small batches, edges of 16x16 blocks in both directions and the
    extra 16 rows at 512. Fails if a padding column is not zero, a value moves or the
    layout is not the products' (features, batch) one."""
    x = np.random.default_rng(n).standard_normal((n, m)).astype(np.float32)
    xt, finite = csr.padded_input(x)
    assert finite is True
    assert xt.shape == (m, csr.padded_rows(n)) and xt.flags.c_contiguous
    np.testing.assert_array_equal(xt, csr.padded_batch(x).T)
    if xt.shape[1] % 16 == 0:
        assert xt.ctypes.data % 64 == 0


@pytest.mark.parametrize("where", ["block", "row edge", "column edge", "last"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_padded_input_finds_nan_and_infinity(path, where, value):
    """One NaN or infinity anywhere in the batch, inside a 16x16 register block or in the
    element-wise edges (rows past the last multiple of 16, columns past it), makes ``finite``
    False; the largest finite float, a subnormal and -0.0 do not. Fails if a block, an edge or
    a sign of infinity escapes the check, or if a finite value is taken for one."""
    n, m = 300, 37  # 300 = 18 * 16 + 12 rows, 37 = 2 * 16 + 5 columns
    x = np.random.default_rng(0).standard_normal((n, m)).astype(np.float32)
    x[0, 0], x[1, 1], x[2, 2] = np.finfo(np.float32).max, np.float32(1e-45), -0.0
    assert csr.padded_input(x)[1] is True
    i, j = {"block": (17, 3), "row edge": (295, 10), "column edge": (40, 34),
            "last": (n - 1, m - 1)}[where]
    x[i, j] = value
    xt, finite = csr.padded_input(x)
    assert finite is False
    np.testing.assert_array_equal(xt[:, :n], x.T)  # copied all the same


@pytest.mark.parametrize("where", ["block", "row edge", "column edge"])
def test_the_finite_check_survives_a_fast_math_caller(where):
    """The tiled forward pass checks its input inside kernels compiled with fast-math, which
    lets LLVM assume that no value is NaN or infinite. The check must still see a NaN in a
    16x16 block and in the edges copied one value at a time. Fails with a float test such as
    ``math.isfinite`` in the edges (folded to True there: a NaN in a batch's last partial block
    of 16 samples went through ``logits``)."""
    from numba import njit

    @njit(fastmath=True)
    def transposed_in_fast_math(x, out):
        return csr._transpose_columns(x, out, 0, x.shape[1])

    x = np.random.default_rng(0).random((44, 40), dtype=np.float32)  # 2 * 16 + 12, 2 * 16 + 8
    x[{"block": (3, 5), "row edge": (43, 3), "column edge": (3, 39)}[where]] = np.nan
    out = np.empty((40, 48), np.float32)
    assert transposed_in_fast_math(x, out) != 0
    np.testing.assert_array_equal(out[:, :44], x.T)


@pytest.mark.parametrize("n_chunks", [1, 3, 8, 1000])
def test_balanced_row_chunks(n_chunks):
    """Chunks cover the rows in order and each costs at most its fair share of ``nnz + rows``
    plus one row (a cut falls between rows). The rows' lengths grow from 0 to 96 (every fifth
    row empty), so cutting into equal numbers of rows, or any unbalanced cut, fails."""
    lengths = np.arange(97) * (np.arange(97) % 5 != 0)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    bounds = csr._balanced_row_chunks(indptr, n_chunks)
    assert bounds.shape == (n_chunks + 1,) and bounds[0] == 0 and bounds[-1] == 97
    assert np.all(np.diff(bounds) >= 0)
    cost = indptr[bounds] + bounds                     # cumulative nnz + rows at each cut
    fair = (indptr[-1] + 97) / n_chunks
    assert np.all(np.diff(cost) <= np.ceil(fair) + 1 + lengths.max())


def test_layer_forward_is_spmm_t_bias_act_without_the_checks(rng):
    from sparana_lite.kernels.csr import layer_forward
    A, _ = random_csr(rng, 120, 90, 0.2)
    A = csr_matrix_f32(A)
    B = rng.standard_normal((120, 33)).astype(np.float32)
    bias = rng.standard_normal(90).astype(np.float32)
    plan = TransposePlan(A)
    for kind in (0, 1, 2, 3):
        np.testing.assert_array_equal(layer_forward(A, B, bias, kind, plan),
                                      spmm_t_bias_act(A, B, bias, kind, plan=plan))


@pytest.mark.parametrize("n", [16, 48, 250])
def test_wide_twins_match_numpy_and_do_not_depend_on_threads(rng, n):
    """The 512-bit twins (taken for aligned rows of a multiple of 16 floats) against NumPy, and
    bitwise the same in the serial and parallel drivers; the public kernels pick them only for
    aligned rows (n = 250 keeps the 256-bit ones)."""
    from sparana_lite.kernels._codegen import aligned_empty
    A, W = random_csr(rng, 120, 90, 0.1)
    B = aligned_empty((90, n))
    B[...] = rng.standard_normal((90, n))
    X, Yt = aligned_empty((120, n)), aligned_empty((90, n))
    X[...] = rng.standard_normal((120, n))
    Yt[...] = rng.standard_normal((90, n))
    wide = n % 16 == 0
    assert csr._wide_rows(B) == wide
    ser, par = aligned_empty((120, n)), aligned_empty((120, n))
    no_bias = (csr._NO_BIAS, csr.LINEAR)
    csr._spmm_serial(A.indptr, A.indices, A.data, B, ser, *no_bias, 32, True)
    close(ser, W.astype(np.float64) @ B)
    for chunks in (1, 3):
        par[...] = np.nan
        csr._spmm_parallel(A.indptr, A.indices, A.data, B, par, *no_bias, chunks, 32, True)
        np.testing.assert_array_equal(par, ser)
    v_ser, v_par = np.empty(A.nnz, np.float32), np.empty(A.nnz, np.float32)
    csr._sddmm_serial(A.indptr, A.indices, X, Yt, v_ser, True)
    csr._sddmm_parallel(A.indptr, A.indices, X, Yt, v_par, 3, True)
    np.testing.assert_array_equal(v_par, v_ser)
    close(v_ser, sddmm_reference(A, X, Yt.T))
    close(spmm(A, B), W.astype(np.float64) @ B)
    close(sddmm(A, X, Yt.T), sddmm_reference(A, X, Yt.T))


@pytest.mark.parametrize("n", [128, 144, 400])
@pytest.mark.parametrize("kind", [dense.LINEAR, dense.RELU, dense.TANH, dense.SIGMOID])
def test_register_tiles_give_the_bits_of_the_row_loop(rng, n, kind):
    """Aligned rows of 128 columns or more take the register tiles (``_spmm_rows_tile``); they
    give the bits of the plain row loop (``_spmm_rows``, taken for unaligned rows), so a
    sample's output does not depend on where it sits in a batch or how the batch is aligned
    (both loops group the nonzeros alike and LLVM, free to reassociate, orders both sums the
    same way; this holds for AVX-512 and AVX2 code). Rows of 15 to 45 nonzeros take the
    groups of 8 and 4 and single ones. Fails if a tile misses the bias or activation, reads
    another row's bias, leaves a column unwritten (NaN) or the two loops' bits part."""
    from sparana_lite.kernels._codegen import aligned_empty
    A, W = random_csr(rng, 90, 120, 0.25)
    B = aligned_empty((120, n))
    B[...] = rng.standard_normal((120, n))
    bias = rng.standard_normal(90).astype(np.float32)
    tiled, plain = aligned_empty((90, n)), aligned_empty((90, n))
    tiled[...] = plain[...] = np.nan
    csr._spmm_serial(A.indptr, A.indices, A.data, B, tiled, bias, kind, csr.COLUMN_TILE, True)
    csr._spmm_serial(A.indptr, A.indices, A.data, B, plain, bias, kind, csr.COLUMN_TILE, False)
    np.testing.assert_array_equal(tiled, plain)
    name = [k for k, v in dense.ACTIVATIONS.items() if v == kind][0]
    close(tiled, ref.ACT[name][0](W.astype(np.float64) @ B + bias[:, None]))
    for chunks in (1, 3):
        par = aligned_empty((90, n))
        csr._spmm_parallel(A.indptr, A.indices, A.data, B, par, bias, kind, chunks,
                           csr.COLUMN_TILE, True)
        np.testing.assert_array_equal(par, tiled)


@pytest.mark.parametrize("n", [128, 129, 250, 256, 500, 1000])
def test_tiled_layout_gives_the_bits_of_the_batch_layout(path, rng, n):
    """A layer's forward pass in the tiled layout (``tiled_input``, ``layer_forward_tiled``,
    ``untiled``) gives the bits of ``layer_forward`` on the padded batch, for every sample,
    through two layers; the tiles hold the samples in order and the padding columns are zero.
    n covers one tile, a tile and a 16-sample slab, slabs alone and several tiles. Fails if a
    slab is dropped, a tile is written in the wrong place, the padding leaks or the arithmetic
    differs from the (features, batch) layout's."""
    A1 = csr_matrix_f32(random_csr(rng, 70, 90, 0.2)[0])
    A2 = csr_matrix_f32(random_csr(rng, 90, 40, 0.3)[0])
    b1, b2 = rng.standard_normal(90).astype(np.float32), rng.standard_normal(40).astype(np.float32)
    x = rng.standard_normal((n, 70)).astype(np.float32)
    full, rest, finite = csr.tiled_input(x)
    t, r = csr.tile_counts(n)
    assert finite is True and full.shape == (t, 70, csr.TILE) and rest.shape == (70, r)
    rows = csr.untiled(full, rest)
    assert rows.shape == (t * csr.TILE + r, 70) and rows.shape[0] == -(-n // 16) * 16
    np.testing.assert_array_equal(rows[:n], x)
    assert not rows[n:].any()
    batch = csr.transpose(csr.padded_batch(x))
    for A, b, kind in ((A1, b1, dense.RELU), (A2, b2, dense.LINEAR)):
        plan = TransposePlan(A)
        full, rest = csr.layer_forward_tiled(A, full, rest, b, kind, plan)
        batch = csr.layer_forward(A, batch, b, kind, plan)
    np.testing.assert_array_equal(csr.untiled(full, rest)[:n], batch.T[:n])


@pytest.mark.parametrize("n", [128, 129, 256, 300, 500, 1000])
@pytest.mark.parametrize("driver", ["serial", "by_slab", "by_rows"])
def test_layers_in_one_call_give_the_bits_of_one_layer_at_a_time(monkeypatch, rng, n, driver):
    """``layers_forward_tiled`` (all CSR layers in one call) gives the bits of
    ``layer_forward_tiled`` layer after layer, whichever driver runs: one thread for all, each
    thread taking whole slabs, or each layer's rows shared out (the dispatcher is made to pick
    it: seven threads split 1-8 slabs unevenly). Fails if a driver skips a slab or a layer,
    reads another layer's output, pairs a layer with another's bias or activation, or if the
    dispatcher runs another driver than the one the test forces."""
    sizes = (70, 90, 40, 24)
    As = [csr_matrix_f32(random_csr(rng, m, k, 0.3)[0]) for m, k in zip(sizes, sizes[1:])]
    bs = [rng.standard_normal(k).astype(np.float32) for k in sizes[1:]]
    kinds = [dense.RELU, dense.TANH, dense.LINEAR]
    plans = [TransposePlan(A) for A in As]
    x = rng.standard_normal((n, 70)).astype(np.float32)
    expected = [csr.tiled_input(x)[:2]]
    for A, b, kind, plan in zip(As, bs, kinds, plans):
        expected.append(csr.layer_forward_tiled(A, *expected[-1], b, kind, plan))

    ran = []
    for name in ("_layers_tiled_serial", "_layers_tiled_by_slab", "_layers_tiled_by_rows"):
        kernel = getattr(csr, name)
        monkeypatch.setattr(csr, name, lambda *a, _k=kernel, _n=name: ran.append(_n) or _k(*a))
    monkeypatch.setattr(csr, "get_num_threads", lambda: 1 if driver == "by_slab" else 7)
    with forced(driver != "serial"):
        acts, finite = csr.layers_forward_tiled(x, [A.data for A in As], bs, kinds, plans)
    assert ran == [f"_layers_tiled_{driver}"] and finite is True and len(acts) == 4
    for (full, rest), (full_e, rest_e) in zip(acts, expected):
        np.testing.assert_array_equal(full, full_e)
        np.testing.assert_array_equal(rest, rest_e)
    x[n - 1, 3] = np.inf
    with forced(driver != "serial"):
        assert csr.layers_forward_tiled(x, [A.data for A in As], bs, kinds, plans)[1] is False


def test_scratch_buffers_are_reused_per_thread_within_their_cap(monkeypatch, rng):
    """``layers_forward_tiled(..., scratch=True)`` writes a batch's activations into the buffers
    of the thread's last such call when the shapes are the same, with the bits of fresh
    buffers; a new shape replaces them, another thread gets its own, ``scratch=False`` and
    shapes over ``SCRATCH_MAX_BYTES`` get fresh ones. Fails if the buffers are not reused, are
    reused for another shape or across threads, or if a stale value survives in them."""
    import threading
    A = csr_matrix_f32(random_csr(rng, 70, 40, 0.3)[0])
    args = ([A.data], [rng.standard_normal(40).astype(np.float32)], [dense.RELU], [TransposePlan(A)])
    x1, x2 = (rng.standard_normal((300, 70)).astype(np.float32) for _ in range(2))
    monkeypatch.setattr(csr, "_scratch", threading.local())

    def run(x, scratch):
        return csr.layers_forward_tiled(x, *args, scratch=scratch)[0]

    first = run(x1, True)
    second = run(x2, True)
    assert all(a is b for a, b in zip(first[1], second[1]))  # the same buffers, new values
    fresh = run(x2, False)
    for (full, rest), (full_f, rest_f) in zip(second, fresh):
        assert not np.shares_memory(full, full_f)
        np.testing.assert_array_equal(full, full_f)
        np.testing.assert_array_equal(rest, rest_f)
    other = []
    worker = threading.Thread(target=lambda: other.append(run(x2, True)))
    worker.start()
    worker.join()
    assert not np.shares_memory(other[0][1][0], second[1][0])
    assert run(x2[:200], True)[1][0] is not second[1][0]  # 2 tiles (and no slab) now
    assert run(x2, True)[1][0] is not second[1][0]  # the kept buffers are those of the last shape
    monkeypatch.setattr(csr, "SCRATCH_MAX_BYTES", 1000)
    monkeypatch.setattr(csr, "_scratch", threading.local())
    assert run(x1, True)[1][0] is not run(x1, True)[1][0]


def test_a_dense_layer_goes_through_the_tiled_layers_with_its_dense_plan(path, rng):
    """``dense_plan(m, k)`` lets a dense (m, k) matrix's flattened rows through
    ``layers_forward_tiled``: the bits of the same matrix stored as CSR (every entry nonzero),
    and ``act(x @ W + b)`` to float32 rounding. Fails if the plan's transpose is wrong (a
    rectangular matrix shows it) or its pattern misses an entry."""
    W = rng.standard_normal((40, 12)).astype(np.float32) + 10.0  # no zero entry
    b = rng.standard_normal(12).astype(np.float32)
    x = rng.standard_normal((300, 40)).astype(np.float32)
    plan = csr.dense_plan(40, 12)
    assert plan.nnz == 480 and csr.dense_plan(40, 12) is plan  # built once per shape
    acts, _ = csr.layers_forward_tiled(x, [W.reshape(-1)], [b], [dense.LINEAR], [plan])
    A = csr_matrix_f32(W)
    as_csr, _ = csr.layers_forward_tiled(x, [A.data], [b], [dense.LINEAR], [TransposePlan(A)])
    z = csr.untiled(*acts[-1])[:300]
    np.testing.assert_array_equal(z, csr.untiled(*as_csr[-1])[:300])
    close(z, x.astype(np.float64) @ W + b)


@pytest.mark.parametrize("n", [128, 144, 256, 300])
def test_tiled_backward_products(path, rng, n):
    """The backward products in the tiled layout: ``layer_back_product_tiled`` gives the bits
    of ``layer_back_product`` (the same kernels on the same columns); the tiled SDDMM sums a
    weight's gradient over the tiles and the slab, so it matches ``layer_weight_gradient`` to
    float32 rounding, and its serial and parallel drivers agree bitwise. Fails if a tile or the
    slab is left out of a gradient or misplaced in a product."""
    A = csr_matrix_f32(random_csr(rng, 70, 90, 0.2)[0])
    a = rng.standard_normal((n, 70)).astype(np.float32)
    e = rng.standard_normal((n, 90)).astype(np.float32)
    a_tiles, e_tiles = csr.tiled_input(a)[:2], csr.tiled_input(e)[:2]
    a_batch, e_batch = csr.transpose(csr.padded_batch(a)), csr.transpose(csr.padded_batch(e))
    back = csr.untiled(*csr.layer_back_product_tiled(A, *e_tiles))
    np.testing.assert_array_equal(back[:n], csr.layer_back_product(A, e_batch).T[:n])
    g = csr.layer_weight_gradient_tiled(A, a_tiles, e_tiles)
    close(g, csr.layer_weight_gradient(A, a_batch, e_batch.T))
    with forced(True):
        np.testing.assert_array_equal(csr.layer_weight_gradient_tiled(A, a_tiles, e_tiles), g)
    with forced(False):
        np.testing.assert_array_equal(csr.layer_weight_gradient_tiled(A, a_tiles, e_tiles), g)


def test_the_sddmm_lanes_round_each_multiply_add_once():
    """The tiled SDDMM's 16-lane sums use one fused multiply-add per sample (``llvm.fma``), so
    their bits do not depend on whether a compiler contracts a product and a sum (the fast-math
    kernels did on AVX-512 and AVX2 code, a plain function does not). (1 + 2**-12)**2 - 1 is
    2**-11 + 2**-24 rounded once, 2**-11 with the product rounded first. Fails if the lanes go
    back to a separate product and sum."""
    from numba import njit

    from sparana_lite.kernels._tile import lanes_add_product, lanes_load, lanes_sum

    @njit  # no fast-math: nothing here would contract a separate product and sum
    def first_lane(acc, x, y):
        return lanes_sum(lanes_add_product(lanes_load(acc, 0, 0), lanes_load(x, 0, 0),
                                           lanes_load(y, 0, 0)))

    x, acc = np.zeros((1, 16), np.float32), np.zeros((1, 16), np.float32)
    x[0, 0], acc[0, 0] = 1 + 2 ** -12, -1
    assert first_lane(acc, x, x) == np.float32(2 ** -11 + 2 ** -24)


@pytest.mark.parametrize("kind", [dense.LINEAR, dense.RELU, dense.TANH, dense.SIGMOID])
def test_act_grad_tiled_is_act_grad_and_the_bias_gradient(path, rng, kind):
    """``act_grad_tiled_`` multiplies the errors in the tiled layout by act' in place, as
    ``dense.act_grad_`` does on rows, and returns their sums over the samples (the bias
    gradient), the padding columns included (zero errors there add nothing). Fails if a tile
    or the slab is skipped, a derivative is wrong or a sum misses a sample."""
    n = 300  # 2 tiles and a slab of 48
    a = rng.random((n, 50), dtype=np.float32)
    e = rng.standard_normal((n, 50)).astype(np.float32)
    e_tiles, a_tiles = csr.tiled_input(e)[:2], csr.tiled_input(a)[:2]
    sums = csr.act_grad_tiled_(e_tiles, a_tiles, kind)
    expected = dense.act_grad_(e.copy(), a, kind)
    np.testing.assert_array_equal(csr.untiled(*e_tiles)[:n], expected)
    close(sums, expected.astype(np.float64).sum(axis=0))


def test_tiled_input_finds_nan_in_a_tile_and_in_the_slab(path):
    """A NaN or an infinity in a tile or in the last slab makes ``finite`` False; fails if a
    slab escapes the check."""
    x = np.random.default_rng(0).standard_normal((300, 37)).astype(np.float32)  # 2 tiles + 48
    assert csr.tiled_input(x)[2] is True
    for i, value in ((5, np.nan), (200, np.inf), (299, -np.inf)):
        bad = x.copy()
        bad[i, 36] = value
        assert csr.tiled_input(bad)[2] is False


def test_register_tiles_propagate_nan_and_inf(rng):
    """An infinite weight or a NaN input reaches the outputs it feeds, as in SciPy; fails if the
    tiles' arithmetic assumed finite values (fastmath's nnan/ninf)."""
    from sparana_lite.kernels._codegen import aligned_empty
    A, W = random_csr(rng, 40, 30, 0.3)
    A.data[0], A.data[5] = np.inf, -np.inf
    B = aligned_empty((30, 128))
    B[...] = rng.standard_normal((30, 128))
    B[7, 3] = np.nan
    out = aligned_empty((40, 128))
    csr._spmm_serial(A.indptr, A.indices, A.data, B, out, csr._NO_BIAS, csr.LINEAR,
                     csr.COLUMN_TILE, True)
    with np.errstate(invalid="ignore"):
        expected = (A.astype(np.float64) @ B.astype(np.float64))
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(expected))
    assert np.isnan(out).any() and np.isinf(out).any()
