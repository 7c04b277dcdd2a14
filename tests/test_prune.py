"""Pruning scores and rules, checked against naive NumPy code written from the definitions."""
import math

import numpy as np
import pytest

import sparana_lite as sl
import sparana_lite.prune as prune
from sparana_lite.model import MLP, DenseLayer

from . import reference as ref

RNG = np.random.default_rng(7)
X = RNG.uniform(-1, 1, (17, 6)).astype(np.float32)   # signed inputs: |a| matters in layer 0
Y = RNG.integers(0, 3, 17)


def small(activation="relu", seed=0, widths=(6, 5, 4, 3), zero_fraction=0.3):
    """A small model with some weights already zero (so pruning has zeros to count)."""
    model = sl.MLP(list(widths), activation=activation, seed=seed)
    rng = np.random.default_rng(seed + 100)
    for layer in model.layers:
        layer.W[rng.random(layer.W.shape) < zero_fraction] = 0
        layer.b[:] = rng.normal(0, 0.5, layer.b.shape)
    return model


def snapshot(model):
    """Every array a model holds, copied."""
    out = []
    for layer in model.layers:
        if layer.sparse:
            out += [layer.W.data.copy(), layer.W.indices.copy(), layer.W.indptr.copy()]
        else:
            out += [layer.W.copy(), None if layer.mask is None else layer.mask.copy()]
        out.append(layer.b.copy())
    return out


def assert_same_arrays(a, b):
    assert len(a) == len(b)
    for p, q in zip(a, b):
        assert (p is None and q is None) or np.array_equal(p, q)


# --------------------------------------------------------- naive references (independent)
def naive_maav(Ws, bs, x, activation):
    """mean_n |a_i^(n) * W_ij| per layer, one sample at a time, float64."""
    f = ref.ACT[activation][0]
    sums = [np.zeros(W.shape) for W in Ws]
    for sample in np.asarray(x, float):
        a = sample
        for i, (W, b) in enumerate(zip(Ws, bs)):
            W = np.asarray(W, float)
            for r in range(W.shape[0]):
                for c in range(W.shape[1]):
                    sums[i][r, c] += abs(a[r] * W[r, c])
            z = a @ W + b
            a = f(z) if i < len(Ws) - 1 else z
    return [s / len(x) for s in sums]


def naive_prune_layer(W, s, k, largest=False):
    """Zero the k nonzero weights of lowest (highest) score; ties by row-major flat index."""
    W = W.copy()
    flat_W, flat_s = W.reshape(-1), np.asarray(s, float).reshape(-1)
    cands = [(-flat_s[f] if largest else flat_s[f], f) for f in range(W.size) if flat_W[f] != 0]
    for _, f in sorted(cands)[:k]:
        flat_W[f] = 0
    return W


def naive_count(W, r):
    """Weights to prune for target zero fraction r: nearest integer to r*size, halves up."""
    return max(0, math.floor(r * W.size + 0.5) - int(np.sum(W == 0)))


# ------------------------------------------------------------------------------ scores
@pytest.mark.parametrize("sparse", [False, True])
def test_magnitude_is_abs_w(sparse):
    model = small()
    model = model.to_sparse() if sparse else model
    scores = prune.magnitude(model)
    for s, W in zip(scores, small().weights):
        assert s.dtype == np.float32 and s.shape == W.shape
        assert np.array_equal(s, np.abs(W))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("sparse", [False, True])
def test_maav_matches_the_per_sample_definition(activation, sparse):
    model = small(activation=activation)
    model = model.to_sparse() if sparse else model
    expected = naive_maav(model.weights, model.biases, X, activation)
    for batch_size in (4, 1024):
        scores = prune.maav(model, X, batch_size=batch_size)
        assert len(scores) == len(expected)  # every layer, the last included
        for s, e, W in zip(scores, expected, model.weights):
            assert s.dtype == np.float32 and s.shape == W.shape
            np.testing.assert_allclose(s, e, rtol=1e-5, atol=1e-7)
            assert np.all(s[W == 0] == 0)  # zero where no weight is stored


def test_maav_is_a_mean_not_a_sum():
    model = small()
    once = prune.maav(model, X)
    twice = prune.maav(model, np.concatenate([X, X, X]))
    for a, b in zip(once, twice):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_maav_difference_is_the_difference_of_means():
    model = small(activation="tanh")
    xt, xr = X[:5], X[5:]
    expected = [t - r for t, r in zip(naive_maav(model.weights, model.biases, xt, "tanh"),
                                      naive_maav(model.weights, model.biases, xr, "tanh"))]
    scores = prune.maav_difference(model, xt, xr)
    for s, e in zip(scores, expected):
        assert s.dtype == np.float32
        np.testing.assert_allclose(s, e, rtol=1e-5, atol=1e-6)
    # the sizes of the sets do not bias it: the same samples, repeated, differ by nothing
    for s in prune.maav_difference(model, xt, np.concatenate([xt] * 4)):
        np.testing.assert_allclose(s, 0, atol=1e-6)


def test_random_scores_are_seeded_uniform():
    model = small()
    a, b, c = prune.random(model, seed=3), prune.random(model, seed=3), prune.random(model, seed=4)
    for p, q, r, W in zip(a, b, c, model.weights):
        assert p.dtype == np.float32 and p.shape == W.shape
        assert np.array_equal(p, q) and not np.array_equal(p, r)
        assert p.min() >= 0 and p.max() < 1


def test_activation_rank_ranks_each_row_by_magnitude_ties_by_column():
    model = small()
    model.layers[0].W[2, :] = 0.5          # a row of ties
    model.layers[0].W[3, :] = 0            # a row of zeros
    ranks = prune.activation_rank(model)
    for r, W in zip(ranks, model.weights):
        assert r.dtype == np.float32 and r.shape == W.shape
        for i in range(W.shape[0]):
            order = sorted(range(W.shape[1]), key=lambda j: (abs(W[i, j]), j))
            expected = np.empty(W.shape[1])
            expected[order] = np.arange(W.shape[1])
            assert np.array_equal(r[i], expected)
    assert np.array_equal(ranks[0][2], np.arange(5))


def test_activation_rank_with_x_ranks_by_maav():
    model = small()
    maav = prune.maav(model, X)
    for r, m in zip(prune.activation_rank(model, X), maav):
        for i in range(m.shape[0]):
            assert np.array_equal(np.argsort(r[i], kind="stable"), np.argsort(m[i], kind="stable"))


def test_activation_rank_prunes_rows_evenly_and_rank_zero_is_a_candidate():
    model = sl.MLP([20, 30, 10], seed=1)
    scores = prune.activation_rank(model)
    for ratio, lo, hi in [(0.4, 12, 12), (250 / 600, 12, 13), (1 / 30, 1, 1)]:
        out = prune.prune(model, scores, ratio=ratio)
        lost = np.sum(out.weights[0] == 0, axis=1)
        assert lost.sum() == round(ratio * 600)
        assert lost.min() == lo and lost.max() == hi
    # with one weight per row pruned, it is each row's smallest |W| (rank 0)
    W0 = model.weights[0]
    assert np.array_equal(np.flatnonzero(out.weights[0] == 0) % 30, np.argmin(np.abs(W0), axis=1))


# ---------------------------------------------------------------------------- pruning
@pytest.mark.parametrize("largest", [False, True])
def test_ratios_follow_the_naive_rule(largest):
    model = small()
    scores = prune.random(model, seed=1)
    ratios = [0.5, None, 0.8]
    out = prune.prune(model, scores, ratios=ratios, largest=largest)
    for W, s, r, Wn in zip(model.weights, scores, ratios, out.weights):
        if r is None:
            assert np.array_equal(Wn, W)
        else:
            assert np.array_equal(Wn, naive_prune_layer(W, s, naive_count(W, r), largest))
            assert np.sum(Wn == 0) == math.floor(r * W.size + 0.5)


def test_ratio_counts_existing_zeros_and_rounds_halves_up():
    # layer 0 has 8 weights, 2 of them zero; layer 1 has 6 weights, none zero
    W0 = np.arange(1, 9, dtype=np.float32).reshape(4, 2)
    W0[0, 0] = W0[3, 1] = 0
    W1 = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
    model = MLP.from_layers([DenseLayer(W0, np.zeros(2)), DenseLayer(W1, np.zeros(3))])
    scores = prune.magnitude(model)
    for r, zeros in [(0.3125, 3), (0.4375, 4), (0.25, 2), (0.1, 2), (0.0625, 2), (1.0, 8)]:
        out = prune.prune(model, scores, ratios=[r, None])    # r * 8 = 2.5 -> 3, 3.5 -> 4
        assert np.sum(out.weights[0] == 0) == zeros
    out = prune.prune(model, scores, ratios=[None, 0.25])     # 6 * 0.25 = 1.5 -> 2
    assert np.array_equal(out.weights[1], [[0, 0, 3], [4, 5, 6]])


def test_ratio_below_the_current_sparsity_prunes_nothing():
    model = small(zero_fraction=0.5)
    out = prune.prune(model, prune.magnitude(model), ratio=0.2)
    for W, Wn in zip(model.weights, out.weights):
        assert np.array_equal(W, Wn)


def test_ratio_spares_the_last_layer_unless_prune_last():
    model = small(zero_fraction=0)
    scores = prune.magnitude(model)
    out = prune.prune(model, scores, ratio=0.5)
    assert out.sparsity()[:-1] == [0.5, 0.5] and out.sparsity()[-1] == 0
    assert out.masks[-1] is None and np.array_equal(out.weights[-1], model.weights[-1])
    out = prune.prune(model, scores, ratio=0.5, prune_last=True)
    assert out.sparsity() == [0.5, 0.5, 0.5]


def test_ratio_one_empties_the_layer():
    model = small()
    out = prune.prune(model, prune.maav(model, X), ratio=1.0, prune_last=True)
    assert out.sparsity() == [1.0, 1.0, 1.0]
    assert all(not m.any() for m in out.masks)
    # with every weight gone, the output is the last bias
    np.testing.assert_allclose(out.output(X), np.tile(model.biases[-1], (len(X), 1)))


def test_counts_prune_exactly_that_many_nonzeros():
    model = small()
    scores = prune.maav_difference(model, X[:6], X[6:])
    counts = [0, 7, 3]
    for largest in (False, True):
        out = prune.prune(model, scores, counts=counts, largest=largest)
        for i, (W, s, c, Wn) in enumerate(zip(model.weights, scores, counts, out.weights)):
            assert np.count_nonzero(W) - np.count_nonzero(Wn) == c
            assert np.array_equal(Wn, naive_prune_layer(W, s, c, largest))
        assert out.masks[0] is None          # a count of 0 leaves the layer alone
    nnz = np.count_nonzero(model.weights[1])
    out = prune.prune(model, scores, counts=[None, nnz, None])
    assert out.sparsity()[1] == 1.0
    with pytest.raises(ValueError, match=r"counts\[1\].*only %d nonzero" % nnz):
        prune.prune(model, scores, counts=[None, nnz + 1, None])


def test_ties_break_by_flat_index():
    model = small(zero_fraction=0.2)
    scores = [np.round(s * 2) / 2 for s in prune.random(model, seed=5)]  # many ties
    for largest in (False, True):
        out = prune.prune(model, scores, counts=[5, 5, 5], largest=largest)
        for W, s, Wn in zip(model.weights, scores, out.weights):
            assert np.array_equal(Wn, naive_prune_layer(W, s, 5, largest))
    constant = [np.zeros(W.shape) for W in model.weights]
    out = prune.prune(model, constant, counts=[4, 0, 0])
    first = np.flatnonzero(model.weights[0])[:4]
    assert np.array_equal(np.flatnonzero(model.weights[0] != out.weights[0]), first)


def test_zero_weights_are_never_candidates_whatever_their_score():
    model = small()
    scores = [np.where(W == 0, -1e9, np.abs(W)) for W in model.weights]
    out = prune.prune(model, scores, counts=[3, 3, 3])
    for W, Wn in zip(model.weights, out.weights):
        assert np.count_nonzero(W) - np.count_nonzero(Wn) == 3


@pytest.mark.parametrize("storage", ["dense", "masked", "csr"])
def test_the_input_model_is_unchanged(storage):
    model = small()
    if storage == "masked":
        model = model.with_masks([np.random.default_rng(0).random(W.shape) < 0.7
                                  for W in model.weights])
    elif storage == "csr":
        model = model.to_sparse()
    before = snapshot(model)
    out = prune.prune(model, prune.maav(model, X), ratio=0.7, prune_last=True)
    assert out is not model and all(a is not b for a, b in zip(out.layers, model.layers))
    assert_same_arrays(before, snapshot(model))
    sl.train(out, X, Y, optimizer=sl.Adam(lr=1e-2), steps=3, batch_size=8, progress=False)
    assert_same_arrays(before, snapshot(model))


def test_masks_combine_with_existing_masks():
    model = small(zero_fraction=0)
    old = [np.random.default_rng(i).random(W.shape) < 0.8 for i, W in enumerate(model.weights)]
    model = model.with_masks(old)
    out = prune.prune(model, prune.magnitude(model), ratio=0.5)
    for i in range(2):
        assert np.array_equal(out.masks[i], old[i] & (out.weights[i] != 0))
        assert not np.any(out.masks[i] & ~old[i])
    assert np.array_equal(out.masks[2], old[2])


def test_csr_pruning_equals_dense_pruning():
    model = small()
    scores = prune.maav(model, X)
    for kwargs in [{"ratio": 0.6}, {"counts": [4, 4, 2], "largest": True}]:
        dense = prune.prune(model, scores, **kwargs)
        csr = prune.prune(model.to_sparse(), scores, **kwargs)
        mixed = prune.prune(model.to_sparse(layers=[1]), scores, **kwargs)
        assert csr.is_sparse == [True] * 3 and mixed.is_sparse == [False, True, False]
        for other in (csr, mixed):
            for Wd, Wo in zip(dense.weights, other.weights):
                assert np.array_equal(Wd, Wo)
        assert np.array_equal(csr.layers[0].W.toarray() != 0, dense.masks[0])
        np.testing.assert_allclose(csr.output(X), dense.output(X), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer", [lambda: sl.Adam(lr=1e-2, eps=1e-3),
                                       lambda: sl.SGD(lr=1e-3, momentum=0.9, l2=1e-2)],
                         ids=["adam", "sgd-momentum-l2"])
@pytest.mark.parametrize("sparse", [False, True])
def test_pruned_weights_stay_zero_through_training(optimizer, sparse):
    model = small(activation="tanh", zero_fraction=0)   # tanh: no dead units, gradients flow
    sl.train(model, X, Y, optimizer=optimizer(), steps=5, batch_size=8, progress=False)
    out = prune.prune(model, prune.maav(model, X), ratio=0.6, prune_last=True)
    pruned = [W == 0 for W in out.weights]
    # without a mask the pruned weights would move: their gradients are nonzero
    dW, _ = model.gradients(X, Y)
    assert all(np.abs(g[z]).max() > 1e-4 for g, z in zip(dW, pruned))
    out = out.to_sparse() if sparse else out
    before = [W.copy() for W in out.weights]
    sl.train(out, X, Y, optimizer=optimizer(), steps=20, batch_size=8, progress=False)
    for W, W0, z in zip(out.weights, before, pruned):
        assert np.all(W[z] == 0)
        assert np.abs(W[~z] - W0[~z]).max() > 1e-4   # the survivors did train


# ----------------------------------------------------------------------- bad arguments
def _bad(model, scores):
    s3 = [np.ones((6, 5)), np.ones((5, 4)), np.ones((4, 3))]
    nan = [s.copy() for s in s3]
    nan[0][0, 0] = np.nan
    return [
        (lambda: prune.prune(model, scores, ratio=1.5), ValueError, "ratio"),
        (lambda: prune.prune(model, scores, ratio=True), ValueError, "ratio"),
        (lambda: prune.prune(model, scores), ValueError, "exactly one of ratio, ratios and counts"),
        (lambda: prune.prune(model, scores, ratio=.5, counts=[1, 1, 1]), ValueError, "exactly one"),
        (lambda: prune.prune(model, scores, ratios=[.5, .5]), ValueError, "ratios"),
        (lambda: prune.prune(model, scores, ratios=.5), ValueError, "ratios"),
        (lambda: prune.prune(model, scores, ratios=[.5, -.1, 0]), ValueError, r"ratios\[1\]"),
        (lambda: prune.prune(model, scores, ratios=[.5, "a", 0]), ValueError, r"ratios\[1\]"),
        (lambda: prune.prune(model, scores, counts=[1, 2.5, 0]), ValueError, r"counts\[1\]"),
        (lambda: prune.prune(model, scores, counts=[1, 2, -1]), ValueError, r"counts\[2\]"),
        (lambda: prune.prune(model, scores, counts=[1, 2]), ValueError, "counts"),
        (lambda: prune.prune(model, scores, ratios=[.5, .5, 0], prune_last=True), ValueError,
         "prune_last"),
        (lambda: prune.prune(model, scores, ratio=.5, largest="yes"), ValueError, "largest"),
        (lambda: prune.prune(model, scores[:2], ratio=.5), ValueError, "scores"),
        (lambda: prune.prune(model, scores[0], ratio=.5), ValueError, "scores"),
        (lambda: prune.prune(model, [s3[0], s3[1].T, s3[2]], ratio=.5), ValueError, r"scores\[1\]"),
        (lambda: prune.prune(model, nan, ratio=.5), ValueError, r"scores\[0\]"),
        (lambda: prune.prune("model", scores, ratio=.5), TypeError, "model"),
        (lambda: prune.maav(model, X[:, :5]), ValueError, "x"),
        (lambda: prune.maav(model, X[:0]), ValueError, "x must hold at least one sample"),
        (lambda: prune.maav(model, X, batch_size=0), ValueError, "batch_size"),
        (lambda: prune.maav_difference(model, X, X[:, :4]), ValueError, "x_rest"),
        (lambda: prune.maav_difference(model, X * np.nan, X), ValueError, "x_target"),
        (lambda: prune.random(model, seed=-1), ValueError, "seed"),
        (lambda: prune.apply_masks(model, [None, np.ones((5, 4)), None]), ValueError,
         r"keep\[1\]"),
    ]


def test_bad_arguments_name_the_argument():
    model = small()
    scores = prune.magnitude(model)
    for call, error, match in _bad(model, scores):
        with pytest.raises(error, match=match):
            call()


# --------------------------------------------------------------------------- real data
def test_maav_pruning_of_a_trained_mnist_model(small_mnist):
    ds = small_mnist
    model = sl.MLP([784, 64, 32, 10], seed=0)
    sl.train(model, ds.x_train, ds.y_train, optimizer=sl.Adam(lr=1e-3, eps=1e-3), steps=150,
             batch_size=100, progress=False)
    base = model.accuracy(ds.x_test, ds.y_test)
    scores = prune.maav(model, ds.x_train[:1000])
    # MNIST's border pixels are always 0, so their weights score 0 and go first
    border = ds.x_train[:1000].max(axis=0) == 0
    assert np.all(scores[0][border] == 0)
    out = prune.prune(model, scores, ratio=0.5)
    assert np.all(out.weights[0][border] == 0)
    assert out.accuracy(ds.x_test, ds.y_test) > base - 0.02
    sparsity = prune.prune(model, scores, ratio=0.9).sparsity()
    assert sparsity[:2] == pytest.approx([0.9, 0.9], abs=1e-4) and sparsity[2] == 0
