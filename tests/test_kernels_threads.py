"""The thread scheme (sparana_lite.kernels.threads): it limits BLAS where it should, restores it,
and changes no result."""
import os

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import sparana_lite as sl
from sparana_lite.kernels import threads
from sparana_lite.kernels.threads import blas_on_calling_thread, blas_threads
from sparana_lite.train import make_step

WIDTHS = [64, 96, 80, 72, 200]  # last layer (batch 128) x 72 x 200: large enough for BLAS threads


@pytest.fixture
def two_blas_threads():
    """BLAS on two threads for the test, whatever the machine (restored afterwards)."""
    with threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() != [2] * len(blas_threads()) or not blas_threads():
            pytest.skip("no BLAS library whose thread count threadpoolctl can set")
        yield


def test_limits_and_restores(two_blas_threads):
    with blas_on_calling_thread():
        assert blas_threads() == [1] * len(blas_threads())
        with blas_on_calling_thread():  # nested: still 1, and the inner exit restores nothing
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {1}
    assert set(blas_threads()) == {2}


def test_restores_after_an_exception(two_blas_threads):
    with pytest.raises(RuntimeError):
        with blas_on_calling_thread():
            raise RuntimeError("boom")
    assert set(blas_threads()) == {2}


def test_disabled_does_nothing(two_blas_threads, monkeypatch):
    monkeypatch.setattr(threads, "ENABLED", False)
    with blas_on_calling_thread():
        assert set(blas_threads()) == {2}


def pruned_model(seed=0):
    model = sl.MLP(WIDTHS, head="lq", seed=seed)
    return sl.prune.prune(model, sl.prune.random(model, seed=seed), ratio=0.9)


def spy_on_dense_layer(model, seen):
    """Record the BLAS thread counts each time the model's dense (last) layer multiplies."""
    layer = model.layers[-1]
    assert not layer.sparse
    product, back_product = layer.product, layer.back_product

    def spied(f):
        def g(x, **kwargs):
            seen.append(tuple(blas_threads()))
            return f(x, **kwargs)
        return g
    layer.product, layer.back_product = spied(product), spied(back_product)


def run_model(model, x, y):
    """Everything a model with CSR layers does next to BLAS: outputs, gradients, input
    gradients, three training steps."""
    logits = model.logits(x)
    dW, db = model.gradients(x, y)
    dx = model.input_gradient(x, y)
    step = make_step(model, sl.Adam(lr=1e-3), batch_size=x.shape[0])
    for _ in range(3):
        step(x, y)
    dense = [g.toarray() if hasattr(g, "toarray") else g for g in dW]
    return [logits, *dense, *db, dx, *model.weights, *model.biases]


@pytest.mark.parametrize("enabled", [True, False])
def test_csr_model_runs_blas_on_one_thread_only_with_the_scheme(two_blas_threads, monkeypatch,
                                                                enabled):
    monkeypatch.setattr(threads, "ENABLED", enabled)
    rng = np.random.default_rng(0)
    x = rng.random((128, WIDTHS[0]), dtype=np.float32)
    y = rng.integers(0, WIDTHS[-1], 128)
    csr = pruned_model().to_sparse(layers=[0, 1, 2])
    seen = []
    spy_on_dense_layer(csr, seen)
    run_model(csr, x, y)
    assert seen and set(seen) == ({(1,) * len(seen[0])} if enabled else {(2,) * len(seen[0])})
    assert set(blas_threads()) == {2}  # restored after every call


def test_dense_model_keeps_all_blas_threads(two_blas_threads):
    rng = np.random.default_rng(0)
    x = rng.random((128, WIDTHS[0]), dtype=np.float32)
    y = rng.integers(0, WIDTHS[-1], 128)
    model = pruned_model()
    seen = []
    spy_on_dense_layer(model, seen)
    run_model(model, x, y)
    assert seen and set(seen) == {(2,) * len(seen[0])}


def test_results_do_not_depend_on_the_scheme(two_blas_threads, monkeypatch):
    """Outputs, gradients and trained weights of a CSR model agree to float32 rounding with the
    scheme on and off (BLAS on one thread or two).

    Not bitwise: OpenBLAS's Haswell kernels (its choice on AVX2 and on most AMD CPUs) split a
    product over its threads so that the last bit moves with the thread count (seen with
    ``OPENBLAS_CORETYPE=Haswell``: 12% of the outputs differed, by at most 1.2e-7). The
    tolerance still fails if the scheme changed what is computed (a skipped or repeated
    product, a wrong layer), which moves values by orders of magnitude more."""
    rng = np.random.default_rng(1)
    x = rng.random((128, WIDTHS[0]), dtype=np.float32)
    y = rng.integers(0, WIDTHS[-1], 128)
    results = {}
    for enabled in (True, False):
        monkeypatch.setattr(threads, "ENABLED", enabled)
        results[enabled] = run_model(pruned_model(seed=1).to_sparse(layers=[0, 1, 2]), x, y)
    assert len(results[True]) == len(results[False])
    for on, off in zip(results[True], results[False]):
        scale = float(np.max(np.abs(off))) or 1.0
        np.testing.assert_allclose(on, off, rtol=1e-4, atol=1e-5 * scale)
    # not vacuous: training changed the weights (the first of the last 10: 5 W, 5 b)
    assert not np.array_equal(results[True][-10], pruned_model(seed=1).weights[0])


# ---------------------------------------------------------------- one row block per core

@pytest.fixture
def two_numba_threads():
    """numba on two threads for the test (map_row_blocks makes one block per numba thread)."""
    import numba
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has fewer than 2 threads here")
    before = numba.get_num_threads()
    numba.set_num_threads(2)
    yield
    numba.set_num_threads(before)


def test_map_row_blocks_gives_each_thread_a_block_in_order(two_numba_threads, monkeypatch):
    import threading
    monkeypatch.setattr(threads, "MIN_BLOCK_ROWS", 4)
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    seen = []

    def f(block):
        seen.append((threading.current_thread().name, threads.serial_here(), block.shape[0]))
        return block * 2

    blocks = threads.map_row_blocks(f, x)
    assert len(blocks) == 2
    np.testing.assert_array_equal(np.concatenate(blocks), x * 2)
    assert sorted(rows for *_, rows in seen) == [10, 10]
    assert len({name for name, *_ in seen}) == 2  # two threads, one of them the caller
    assert all(serial for _, serial, _ in seen)  # serial kernels inside the blocks ...
    assert not threads.serial_here()  # ... and not after


def test_map_row_blocks_keeps_small_batches_whole(two_numba_threads, monkeypatch):
    monkeypatch.setattr(threads, "MIN_BLOCK_ROWS", 4)
    x = np.ones((7, 3), np.float32)  # 7 // 4 = 1 block
    blocks = threads.map_row_blocks(lambda b: (b.shape[0], threads.serial_here()), x)
    assert blocks == [(7, False)]  # as it is, on the calling thread, with the parallel kernels


def test_map_row_blocks_raises_what_a_block_raises(two_numba_threads, monkeypatch):
    monkeypatch.setattr(threads, "MIN_BLOCK_ROWS", 1)

    def f(block):
        if block[0, 0] > 0:
            raise ValueError("second block")
        return block

    with pytest.raises(ValueError, match="second block"):
        threads.map_row_blocks(f, np.array([[0.0], [1.0]], np.float32))
    assert not threads.serial_here()


def test_kernels_run_serially_inside_a_block(monkeypatch):
    """Inside a block every dispatcher takes its serial twin, however large the input (two
    numba parallel regions started from two Python threads would oversubscribe the cores)."""
    from sparana_lite.kernels import csr as C
    from sparana_lite.kernels import dense as K

    def refuse(*args):
        raise AssertionError("a parallel kernel ran")

    for module, name in [(C, "_spmm_parallel"), (C, "_sddmm_parallel"), (C, "_transpose_parallel"),
                         (C, "_transpose_slabs_parallel"), (C, "_spmm_tiled_parallel"),
                         (C, "_sddmm_tiled_parallel"), (C, "_act_grad_tiled_parallel"),
                         (C, "_layers_tiled_by_slab"), (C, "_layers_tiled_by_rows"),
                         (K, "_bias_act_parallel"), (K, "_act_grad_parallel")]:
        monkeypatch.setattr(module, name, refuse)
    monkeypatch.setattr(K, "PARALLEL_MIN_SIZE", 1)
    rng = np.random.default_rng(0)
    A = C.csr_matrix_f32(rng.random((300, 400)) * (rng.random((300, 400)) < 0.5))
    B = rng.random((400, 300), dtype=np.float32)
    z = rng.random((300, 300), dtype=np.float32)
    X, Y = rng.random((300, 16), dtype=np.float32), rng.random((16, 400), dtype=np.float32)

    def work(_):
        C.spmm(A, B)
        C.sddmm(A, X, Y)
        C.transpose(B)
        C.padded_input(B)
        full, rest, _ = C.tiled_input(z)
        tiles = C.layer_forward_tiled(A, full, rest, np.zeros(400, np.float32), K.RELU,
                                      C.TransposePlan(A))
        C.layer_weight_gradient_tiled(A, (full, rest), tiles)
        C.layers_forward_tiled(z, [A.data], [np.zeros(400, np.float32)], [K.RELU], [C.TransposePlan(A)])
        C.act_grad_tiled_(tiles, tiles, K.RELU)
        K.bias_act_(z, np.zeros(300, np.float32), K.RELU)
        K.act_grad_(z.copy(), z, K.RELU)
        return True

    assert threads._serially(work, None)
    with pytest.raises(AssertionError, match="a parallel kernel ran"):
        work(None)  # not vacuous: outside a block the same calls go parallel


@pytest.mark.parametrize("blocks", [2, 3])
def test_csr_model_logits_by_blocks_match_the_whole_batch(monkeypatch, blocks):
    """A CSR model's logits computed one block of rows per thread agree with the whole batch's
    (the CSR products bitwise; the dense output layer's BLAS product to float32 rounding, as
    OpenBLAS may take another kernel for fewer rows).

    ``map_row_blocks`` makes one block per numba thread; the test makes it see ``blocks``
    threads, so the batch is split even where numba runs on one thread (there "blocks" would
    otherwise be the whole batch again, compared with itself). The blocks run on Python
    threads with serial kernels, which needs no second numba thread. The model's middle layer
    stays dense: a model whose layers but the last are all CSR takes the tiled layout instead
    (next test)."""
    rng = np.random.default_rng(2)
    x = rng.random((420, WIDTHS[0]), dtype=np.float32)
    model = pruned_model(seed=2).to_sparse(layers=[0, 2])
    monkeypatch.setattr(threads, "MIN_BLOCK_ROWS", 10**9)
    whole = model.logits(x)
    monkeypatch.setattr(threads, "MIN_BLOCK_ROWS", 8)
    monkeypatch.setattr(threads, "get_num_threads", lambda: blocks)
    calls = []
    block_logits = model._block_logits
    monkeypatch.setattr(model, "_block_logits",
                        lambda b: calls.append(b.shape[0]) or block_logits(b))
    by_blocks = model.logits(x)
    sizes = [420 * (t + 1) // blocks - 420 * t // blocks for t in range(blocks)]
    assert sorted(calls) == sorted(sizes)   # really split
    np.testing.assert_allclose(by_blocks, whole, rtol=1e-6,
                               atol=1e-6 * float(np.abs(whole).max()))


def test_a_tiled_model_shares_its_tiles_out_instead_of_blocks(monkeypatch):
    """A model whose layers but the last are CSR runs a batch of 420 (three tiles and a slab)
    in one call of the tiled kernels, which share the tiles out between the threads: no row
    blocks (they would run the kernels serially, one Python thread each). Its logits are
    those of the padded forward pass (the CSR products bitwise, the dense output layer's
    products per tile to float32 rounding). Fails if the tiled model is cut into blocks."""
    rng = np.random.default_rng(2)
    x = rng.random((420, WIDTHS[0]), dtype=np.float32)
    model = pruned_model(seed=2).to_sparse(layers=[0, 1, 2])
    monkeypatch.setattr(threads, "MIN_BLOCK_ROWS", 8)
    monkeypatch.setattr(threads, "get_num_threads", lambda: 2)
    calls = []
    monkeypatch.setattr(model, "_block_logits", lambda b: calls.append(b.shape[0]))
    z = model.logits(x)
    assert calls == []
    expected = model.forward(model._padded_input(x))[-1][:420]
    np.testing.assert_allclose(z, expected, rtol=1e-6, atol=1e-6 * float(np.abs(expected).max()))


def test_tiled_logits_leave_blas_alone_and_own_their_result(monkeypatch):
    """A tiled batch (no BLAS product in it) does not set BLAS's thread count; a batch below a
    tile, whose dense output layer runs in BLAS, does. The logits of one call survive the
    next call, although the tiled activations live in reused scratch buffers. Fails if the
    tiled path sets and restores BLAS's threads again, or if ``logits`` returns a view of its
    scratch."""
    import contextlib
    from sparana_lite import model as M
    calls = []

    @contextlib.contextmanager
    def counted():
        calls.append(1)
        yield

    monkeypatch.setattr(M, "blas_on_calling_thread", counted)
    model = pruned_model(seed=2).to_sparse(layers=[0, 1, 2])
    rng = np.random.default_rng(3)
    x1, x2 = (rng.random((300, WIDTHS[0]), dtype=np.float32) for _ in range(2))
    z1 = model.logits(x1)
    kept = z1.copy()
    model.logits(x2)
    assert calls == []
    np.testing.assert_array_equal(z1, kept)
    model.logits(x1[:100])
    assert calls


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs a Linux process allowed on two CPUs")
def test_a_block_runs_pinned_to_its_core_and_unpins():
    """Block t runs on the t-th allowed CPU (modulo their number), with the serial kernels, and
    the thread gets its CPU set back; fails if the pin is skipped, lands on another core or
    stays after the block."""
    allowed = sorted(os.sched_getaffinity(0))
    for core in (0, 1, len(allowed) + 1):
        seen = threads._serially(lambda _: (os.sched_getaffinity(0), threads.serial_here()),
                                 None, core)
        assert seen == ({allowed[core % len(allowed)]}, True)
        assert sorted(os.sched_getaffinity(0)) == allowed and not threads.serial_here()


def test_blas_limited_says_whether_the_limit_holds():
    """True inside blas_on_calling_thread (nested too), False outside it and when the scheme is
    switched off; fails if the element-wise kernels' lower threshold could apply while BLAS
    threads may spin."""
    assert not threads.blas_limited()
    with blas_on_calling_thread():
        with blas_on_calling_thread():
            assert threads.blas_limited()
        assert threads.blas_limited()
    assert not threads.blas_limited()
    threads.ENABLED = False
    try:
        with blas_on_calling_thread():
            assert not threads.blas_limited()
    finally:
        threads.ENABLED = True
