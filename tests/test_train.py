import numba
import numpy as np
import pytest

import sparana_lite as sl
from sparana_lite.kernels import csr, dense
from sparana_lite.train import batch_indices, make_step

from . import reference as ref

RNG = np.random.default_rng(2)
X = RNG.random((60, 12), dtype=np.float32)
Y = RNG.integers(0, 5, 60)


def small(head="lq", seed=0):
    return sl.MLP([12, 9, 7, 5], head=head, seed=seed)


def weights_after(model, **kwargs):
    sl.train(model, X, Y, progress=False, **kwargs)
    return [np.array(W) for W in model.weights] + [b.copy() for b in model.biases]


# ---------------------------------------------------------------------------- semantics
def test_adam_step_matches_the_original_semantics():
    model = small()
    W0, b0 = [W.astype(float) for W in model.weights], [b.astype(float) for b in model.biases]
    dW, db = ref.gradients(W0, b0, X[:20], Y[:20], "lq", "relu")
    opt = sl.Adam(lr=1e-2, eps=1e-3, l2=0.5)
    step = make_step(model, opt, batch_size=20)
    step(X[:20], Y[:20])
    for W, w0, g in zip(model.weights, W0, dW):
        expected, _, _ = ref.adam_step(w0, g, 0, 0, 1, 1e-2, eps=1e-3, l2=0.5, batch=20)
        np.testing.assert_allclose(W, expected, rtol=1e-5, atol=1e-6)
    for b, bb, g in zip(model.biases, b0, db):  # no decay on biases
        expected, _, _ = ref.adam_step(bb, g, 0, 0, 1, 1e-2, eps=1e-3)
        np.testing.assert_allclose(b, expected, rtol=1e-5, atol=1e-6)


def test_sgd_step_with_momentum_and_l2():
    model = small()
    W0 = [W.astype(float) for W in model.weights]
    opt = sl.SGD(lr=1e-3, momentum=0.5, l2=2.0)
    step = make_step(model, opt, batch_size=10)
    g1, _ = ref.gradients(W0, [b.astype(float) for b in model.biases], X[:10], Y[:10], "lq", "relu")
    step(X[:10], Y[:10])
    expected1 = [w - 1e-3 * g - 1e-3 * 2.0 / 10 * w for w, g in zip(W0, g1)]
    for W, e in zip(model.weights, expected1):
        np.testing.assert_allclose(W, e, rtol=1e-5, atol=1e-7)
    W1 = [W.astype(float) for W in model.weights]
    g2, _ = ref.gradients(W1, [b.astype(float) for b in model.biases], X[10:20], Y[10:20], "lq", "relu")
    step(X[10:20], Y[10:20])
    for W, w1, a, b in zip(model.weights, W1, g1, g2):
        velocity = 0.5 * (-1e-3 * a) - 1e-3 * b
        np.testing.assert_allclose(W, w1 + velocity - 1e-3 * 2.0 / 10 * w1, rtol=1e-5, atol=1e-7)


def test_optimizer_state_carries_over_between_calls():
    a, b = small(), small()
    opt_a = sl.Adam(lr=1e-3)
    sl.train(a, X, Y, optimizer=opt_a, steps=3, batch_size=20, progress=False)
    sl.train(a, X, Y, optimizer=opt_a, steps=3, batch_size=20, seed=0, progress=False)
    assert opt_a.t == 6
    sl.train(b, X, Y, optimizer=opt_a, steps=1, batch_size=20, progress=False)
    assert opt_a.t == 1  # a different model starts fresh


# -------------------------------------------------------------------------- determinism
def test_same_seed_same_result_other_seed_other_result():
    kw = dict(optimizer=sl.Adam(lr=1e-3), steps=20, batch_size=16)
    a = weights_after(small(), seed=1, **kw)
    kw["optimizer"] = sl.Adam(lr=1e-3)
    b = weights_after(small(), seed=1, **kw)
    kw["optimizer"] = sl.Adam(lr=1e-3)
    c = weights_after(small(), seed=2, **kw)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c))


@pytest.mark.parametrize("sparse", [False, True])
def test_one_thread_and_two_give_the_same_weights(monkeypatch, small_mnist, sparse):
    """The parallel kernels (forced on here) compute each element in one thread, in order.

    Fails if a parallel driver's result depends on the number of threads, or if forcing the
    thresholds no longer reaches the parallel Adam update (counted below)."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("NUMBA_NUM_THREADS < 2; test_kernels_csr checks threads in subprocesses")
    monkeypatch.setattr(dense, "PARALLEL_MIN_SIZE", 0)
    monkeypatch.setattr(dense, "PARALLEL_MIN_SIZE_BLAS_HELD", 0)  # CSR models' updates
    monkeypatch.setattr(csr, "PARALLEL_MIN_WORK", 0)
    calls = []
    adam_parallel = dense._adam_parallel

    def counted(*args):
        calls.append(1)
        return adam_parallel(*args)
    monkeypatch.setattr(dense, "_adam_parallel", counted)
    x, y = small_mnist.x_train[:500], small_mnist.y_train[:500]
    results = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        model = sl.MLP([784, 64, 32, 10], seed=0)
        if sparse:
            for layer in model.layers:
                layer.W[np.abs(layer.W) < 0.05] = 0
            model = model.to_sparse()
        sl.train(model, x, y, optimizer=sl.Adam(lr=1e-3), steps=10, batch_size=50, progress=False)
        results.append(model.weights + model.biases)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert len(calls) == 2 * 10 * 2 * 3  # 2 runs x 10 steps x (weights, biases) x 3 layers
    assert all(np.array_equal(p, q) for p, q in zip(*results))


def test_batches_walk_permutations_and_drop_the_remainder():
    batches = list(batch_indices(10, 3, 7, seed=0))
    assert all(len(b) == 3 for b in batches)
    for epoch in (batches[0:3], batches[3:6]):
        seen = np.concatenate(epoch)
        assert len(set(seen)) == 9  # 9 distinct of 10: one left over each pass
    assert [list(b) for b in batch_indices(10, 3, 7, seed=0)] == [list(b) for b in batches]


# ------------------------------------------------------------------- masks and sparsity
@pytest.mark.parametrize("optimizer", [sl.Adam(lr=1e-2, l2=1.0), sl.SGD(lr=1e-2, momentum=0.9, l2=1.0)])
def test_masked_weights_stay_zero(optimizer):
    model = small()
    masks = [np.abs(W) > 0.3 for W in model.weights]
    model = model.with_masks(masks)
    sl.train(model, X, Y, optimizer=optimizer, steps=30, batch_size=20, progress=False)
    for W, m in zip(model.weights, masks):
        assert np.all(W[~m] == 0)
        assert np.count_nonzero(W[m]) == m.sum()  # the rest trained and moved off zero


@pytest.mark.parametrize("head", ["lq", "sce"])
@pytest.mark.parametrize("layers", [None, [0, 1], [1]])
def test_csr_training_equals_masked_dense_training(head, layers):
    """CSR training follows masked dense training, with batches of 20 (as they are) and of 130
    (144 rows: with zero errors past the batch). Batches of 130 take the tiled layout (a tile
    of 128 samples and a slab of 16; ``kernels.csr.tiled_input``) when every layer but the last
    is CSR (``layers`` None: all CSR; [0, 1]: a dense output layer), and the padded (features,
    batch) layout otherwise ([1]: a dense first layer). Fails if a padding row adds to a
    gradient or a loss, or if the CSR products, SDDMM, the dense layer's tiled products or the
    updates go wrong."""
    base = small(head)
    for layer in base.layers:
        layer.W[np.abs(layer.W) < 0.25] = 0
    csr = layers or range(3)
    masked = base.with_masks([W != 0 if i in csr else None for i, W in enumerate(base.weights)])
    sparse = base.to_sparse(layers=layers)
    assert sparse._tiles(130) == (layers != [1])
    rng = np.random.default_rng(3)
    x, y = rng.random((260, 12), dtype=np.float32), rng.integers(0, 5, 260)
    for model in (masked, sparse):
        sl.train(model, X, Y, optimizer=sl.Adam(lr=1e-2), steps=25, batch_size=20, progress=False)
        sl.train(model, x, y, optimizer=sl.Adam(lr=1e-2), steps=6, batch_size=130, progress=False)
    assert sparse.is_sparse == [i in csr for i in range(3)]
    assert sparse.sparsity() == pytest.approx(masked.sparsity())
    for a, b in zip(sparse.weights + sparse.biases, masked.weights + masked.biases):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_training_learns_mnist(small_mnist):
    model = sl.MLP([784, 64, 10], seed=0)
    before = model.accuracy(small_mnist.x_test, small_mnist.y_test)
    history = sl.train(model, small_mnist.x_train, small_mnist.y_train, optimizer=sl.Adam(lr=1e-3, eps=1e-3),
                       epochs=10, batch_size=50, eval_every=200, progress=False,
                       eval_data=(small_mnist.x_test, small_mnist.y_test))
    assert history.steps == [200, 400]
    assert history.accuracy[-1] == model.accuracy(small_mnist.x_test, small_mnist.y_test)
    assert before < 0.3 and history.accuracy[-1] > 0.8
    assert history.loss[-1] < history.loss[0]


# ------------------------------------------------------------------------------- errors
@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_a_diverging_run_stops_with_a_clear_error():
    with pytest.raises(sl.TrainingDivergedError, match=r"became (nan|inf) at step \d+; lower the learning rate"):
        sl.train(small(), X * 1e3, Y, optimizer=sl.SGD(lr=10.0), steps=200, batch_size=20, progress=False)


@pytest.mark.parametrize("make, match", [
    (lambda: sl.Adam(lr=0), "lr must lie in"),
    (lambda: sl.Adam(lr=float("nan")), "lr must be a finite number"),
    (lambda: sl.Adam(beta1=1.0), "beta1"),
    (lambda: sl.Adam(beta2=-0.1), "beta2"),
    (lambda: sl.Adam(eps=0), "eps"),
    (lambda: sl.Adam(clip=-1), "clip"),
    (lambda: sl.SGD(momentum=1.0), "momentum"),
    (lambda: sl.SGD(l2=-1e-4), "l2"),
])
def test_invalid_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(steps=None), ValueError, "exactly one of steps and epochs"),
    (dict(steps=5, epochs=1), ValueError, "exactly one of steps and epochs"),
    (dict(steps=0), ValueError, "steps must be an integer >= 1"),
    (dict(steps=5, batch_size=61), ValueError, r"batch_size \(61\) must not exceed"),
    (dict(steps=5, batch_size=0), ValueError, "batch_size"),
    (dict(steps=5, seed=-2), ValueError, "seed"),
    (dict(steps=5, optimizer="adam"), TypeError, "optimizer must be"),
    (dict(steps=5, eval_data=X), ValueError, "eval_data must be a pair"),
    (dict(steps=5, eval_every=0), ValueError, "eval_every"),
])
def test_invalid_training_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        sl.train(small(), X, Y, progress=False, **{"batch_size": 20, **kwargs})


def test_invalid_training_data():
    with pytest.raises(ValueError, match="y has 59 labels but x has 60"):
        sl.train(small(), X, Y[:-1], steps=1, batch_size=20, progress=False)
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 4\]"):
        sl.train(small(), X, Y + 5, steps=1, batch_size=20, progress=False)
    with pytest.raises(ValueError, match="x contains NaN"):
        sl.train(small(), np.full_like(X, np.nan), Y, steps=1, batch_size=20, progress=False)
    with pytest.raises(TypeError, match="model must be a sparana_lite.MLP"):
        sl.train("model", X, Y, steps=1)


@pytest.mark.parametrize("storage", ["dense", "csr"])
def test_make_step_checks_its_arguments_and_each_batch(storage):
    """make_step is public (chapters and benchmarks call it): fails if it accepts a non-model,
    a non-optimizer or a bad batch size, or if its step trains on a batch of the wrong width,
    size (the L2 decay is scaled by batch_size), labels, or with NaN, instead of refusing it.
    A CSR model's step finds the NaN as it transposes the batch (one NaN among finite values
    is enough), before any weight moves."""
    model = small() if storage == "dense" else small().to_sparse()
    with pytest.raises(TypeError, match="model must be a sparana_lite.MLP"):
        make_step("model", sl.Adam(), 20)
    with pytest.raises(TypeError, match="optimizer must be sl.SGD or sl.Adam; got str"):
        make_step(model, "adam", 20)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        make_step(model, sl.Adam(), 0)
    step = make_step(model, sl.Adam(), 20)
    before = [W.copy() for W in model.weights]
    with pytest.raises(ValueError, match="xb must have 12 features"):
        step(X[:20, :5], Y[:20])
    with pytest.raises(ValueError, match=r"xb has 10 samples; this step was made for batch_size=20"):
        step(X[:10], Y[:10])
    with pytest.raises(ValueError, match=r"yb must hold labels in \[0, 4\]"):
        step(X[:20], Y[:20] + 5)
    with pytest.raises(ValueError, match="xb contains NaN"):
        step(np.full((20, 12), np.nan), Y[:20])
    one_inf = X[:20].copy()
    one_inf[7, 3] = np.inf
    with pytest.raises(ValueError, match="xb contains NaN"):
        step(one_inf, Y[:20])
    assert all(np.array_equal(W, b) for W, b in zip(model.weights, before))  # nothing trained
    assert np.isfinite(step(X[:20], Y[:20]))


# ------------------------------------------------------------------ progress bars

class _Stream:
    """A stream that records what tqdm writes; ``tty`` says whether it claims a terminal."""

    def __init__(self, tty):
        self.tty, self.parts = tty, []

    def isatty(self):
        return self.tty

    def write(self, s):
        self.parts.append(s)

    def flush(self):
        pass

    def redraws(self):
        return "".join(self.parts).count("training")


def test_progress_is_rate_limited_where_no_terminal_watches(monkeypatch):
    """A notebook kernel or a log gets a redraw at most every NON_INTERACTIVE_INTERVAL seconds
    (a chapter training for minutes then sends tens of updates, not thousands); a terminal
    keeps tqdm's 0.1 s. Fails if the training bar ignores the rate limit: 6,000 tiny steps
    take about two seconds and would redraw every 50 steps."""
    import time

    from sparana_lite import progress

    monkeypatch.setattr("tqdm.auto.tqdm", __import__("tqdm").tqdm)  # text bars, whatever runs
    rng = np.random.default_rng(0)
    x, y = rng.random((200, 8), dtype=np.float32), rng.integers(0, 3, 200)
    counts = {}
    for tty in (False, True):
        stream = _Stream(tty)
        monkeypatch.setattr("sys.stderr", stream)  # restored at the end of the test
        start = time.perf_counter()
        sl.train(sl.MLP([8, 6, 3], seed=0), x, y, steps=6000, batch_size=20, progress=True)
        seconds = time.perf_counter() - start
        counts[tty] = (stream.redraws(), seconds)
    redraws, seconds = counts[False]
    assert progress.min_interval(_Stream(False)) == progress.NON_INTERACTIVE_INTERVAL >= 1
    assert 1 <= redraws <= 3 + seconds / progress.NON_INTERACTIVE_INTERVAL, counts
    # on a terminal the bar moves (a redraw every 50 steps when 0.1 s apart): not vacuous
    redraws, seconds = counts[True]
    assert progress.min_interval(_Stream(True)) == progress.INTERACTIVE_INTERVAL
    assert redraws > 3 + seconds / progress.NON_INTERACTIVE_INTERVAL or seconds < 0.5, counts


def test_csr_models_update_large_layers_on_numba_threads(monkeypatch, small_mnist):
    """With CSR layers the training step keeps BLAS on its thread through the updates too, so
    an update of 16,384 weights or more takes the parallel Adam (no spinning BLAS thread to
    fight); a dense model's updates stay serial below 4M weights. Fails if the step drops the
    BLAS limit around the updates or the lower threshold stops applying there."""
    calls = []
    adam_parallel = dense._adam_parallel
    monkeypatch.setattr(dense, "_adam_parallel", lambda *a: calls.append(a[0].shape[0]) or adam_parallel(*a))
    x, y = small_mnist.x_train[:200], small_mnist.y_train[:200]
    model = sl.MLP([784, 64, 10], seed=0)
    sl.train(model, x, y, optimizer=sl.Adam(lr=1e-3), steps=2, batch_size=100, progress=False)
    assert calls == []
    model.layers[0].W[np.abs(model.layers[0].W) < 0.02] = 0
    sparse = model.to_sparse(layers=[0])
    big = sparse.layers[0].W.nnz
    assert big >= dense.PARALLEL_MIN_SIZE_BLAS_HELD
    sl.train(sparse, x, y, optimizer=sl.Adam(lr=1e-3), steps=2, batch_size=100, progress=False)
    assert calls == [big, big]  # the CSR layer's weights, each step; its biases and the rest serial
