"""remove_activations: exact removal of hidden neurons cut off by pruning."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import sparana_lite as sl
import sparana_lite.prune as prune
from sparana_lite.model import MLP, DenseLayer
from sparana_lite.structure import remove_activations

RNG = np.random.default_rng(3)
X = RNG.uniform(-1, 1, (40, 6)).astype(np.float32)


def assert_same_outputs(a, b, x=X):
    ya, yb = a.output(x), b.output(x)
    np.testing.assert_allclose(yb, ya, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(ya).max()))


def engineered(activation="relu"):
    """6-6-5-3 with dead neurons; expected removals: hidden 1 -> [0, 1, 4], hidden 2 -> [2, 3].

    hidden 1, n0: no incoming weights, large bias (its constant is folded)
    hidden 1, n1: no outgoing weights
    hidden 2, n2: incoming weight only from hidden 1 n0: loses it, then is folded (cascade)
    hidden 2, n3: no outgoing weights; hidden 1 n4 feeds only n3, so it goes too (cascade back)
    """
    rng = np.random.default_rng(0)
    W0, W1, W2 = (rng.normal(0, 1, s).astype(np.float32) for s in [(6, 6), (6, 5), (5, 3)])
    b0, b1, b2 = (rng.normal(0, 0.5, n).astype(np.float32) for n in (6, 5, 3))
    W0[:, 0] = 0
    b0[0] = 4.0
    W1[1, :] = 0
    W1[4, :] = 0
    W1[4, 3] = 0.7
    W1[:, 2] = 0
    W1[0, 2] = 1.5
    b1[2] = 2.0
    W2[3, :] = 0
    layers = [DenseLayer(W0, b0), DenseLayer(W1, b1), DenseLayer(W2, b2)]
    return MLP.from_layers(layers, head="lq", activation=activation)


REMOVED = [[0, 1, 4], [2, 3]]


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
def test_engineered_dead_neurons_are_removed_exactly(activation):
    model = engineered(activation)
    smaller = remove_activations(model)
    assert smaller.widths == [6, 3, 3, 3]
    assert smaller.metadata["removed_activations"] == REMOVED
    assert smaller.activation == activation and smaller.head == model.head
    assert_same_outputs(model, smaller)
    # the fold uses the removed neuron's own bias: dropping it would change the outputs
    assert not np.allclose(smaller.biases[1], model.biases[1][[0, 1, 4]])


def test_fold_of_a_large_bias_is_exact():
    model = engineered("relu")
    model.layers[0].b[0] = 50.0          # a large constant through a fan-in-free neuron
    smaller = remove_activations(model)
    assert_same_outputs(model, smaller)
    # hidden 2's kept neurons 0, 1, 4 received 50 * W1[0, kept]
    W1, b1 = model.weights[1], model.biases[1]
    np.testing.assert_allclose(smaller.biases[1], b1[[0, 1, 4]] + 50 * W1[0, [0, 1, 4]], rtol=1e-6)


def test_the_input_model_is_unchanged_and_kept_weights_are_sliced():
    model = engineered("tanh")
    before = [a.copy() for a in model.weights + model.biases]
    smaller = remove_activations(model)
    for a, b in zip(before, model.weights + model.biases):
        assert np.array_equal(a, b)
    W0, W1, W2 = model.weights
    keep1, keep2 = [2, 3, 5], [0, 1, 4]
    assert np.array_equal(smaller.weights[0], W0[:, keep1])
    assert np.array_equal(smaller.weights[1], W1[np.ix_(keep1, keep2)])
    assert np.array_equal(smaller.weights[2], W2[keep2, :])
    assert np.array_equal(smaller.biases[0], model.biases[0][keep1])


@pytest.mark.parametrize("layers", [None, [0], [1, 2]])
def test_csr_and_mixed_models_give_the_dense_result(layers):
    model = engineered("tanh")
    dense = remove_activations(model)
    sparse_in = model.to_sparse(layers)
    out = remove_activations(sparse_in)
    assert out.is_sparse == sparse_in.is_sparse
    assert out.widths == dense.widths
    assert out.metadata["removed_activations"] == REMOVED
    for a, b in zip(out.weights + out.biases, dense.weights + dense.biases):
        assert np.array_equal(a, b)
    assert_same_outputs(sparse_in, out)


def test_masks_are_sliced_along():
    model = engineered("relu")
    masks = [np.random.default_rng(i).random(W.shape) < 0.9 for i, W in enumerate(model.weights)]
    masks[0][:, 0] = False                 # keep the engineered zero column zero
    masks[1][[1, 4], :] = False
    masks[1][4, 3] = True
    masks[1][:, 2] = False
    masks[1][0, 2] = True
    masks[2][3, :] = False
    masked = model.with_masks(masks)
    smaller = remove_activations(masked)
    assert smaller.metadata["removed_activations"] == REMOVED
    keep1, keep2 = [2, 3, 5], [0, 1, 4]
    assert np.array_equal(smaller.masks[0], masks[0][:, keep1])
    assert np.array_equal(smaller.masks[1], masks[1][np.ix_(keep1, keep2)])
    assert np.array_equal(smaller.masks[2], masks[2][keep2, :])
    assert_same_outputs(masked, smaller)


def test_nothing_to_remove_gives_an_equal_copy():
    model = sl.MLP([6, 5, 4, 3], seed=2).with_masks([None, np.ones((5, 4), bool), None])
    out = remove_activations(model)
    assert out is not model and out.widths == model.widths
    assert out.metadata["removed_activations"] == [[], []]
    for a, b in zip(out.weights + out.biases, model.weights + model.biases):
        assert np.array_equal(a, b) and a is not b
    assert out.masks[0] is None and np.array_equal(out.masks[1], model.masks[1])
    assert out.masks[1] is not model.masks[1]


def test_an_emptied_middle_layer_removes_every_hidden_neuron():
    model = sl.MLP([6, 5, 4, 3], activation="sigmoid", seed=1)
    model.layers[1].W[:] = 0             # no hidden-1 neuron has outgoing weights
    smaller = remove_activations(model)
    assert smaller.widths == [6, 0, 0, 3]
    assert smaller.metadata["removed_activations"] == [[0, 1, 2, 3, 4], [0, 1, 2, 3]]
    assert_same_outputs(model, smaller)


def test_metadata_of_the_argument_is_kept():
    model = engineered()
    model.metadata["note"] = "pruned"
    out = remove_activations(model)
    assert out.metadata["note"] == "pruned" and "removed_activations" not in model.metadata


def test_bad_argument():
    with pytest.raises(TypeError, match="model"):
        remove_activations([np.ones((2, 2))])


# ------------------------------------------------------------------------- real MNIST
def test_maav_pruned_mnist_model_shrinks_with_unchanged_outputs(small_mnist):
    ds = small_mnist
    model = sl.MLP([784, 64, 32, 10], seed=0)
    sl.train(model, ds.x_train, ds.y_train, optimizer=sl.Adam(lr=1e-3, eps=1e-3), steps=150,
             batch_size=100, progress=False)
    pruned = prune.prune(model, prune.maav(model, ds.x_train[:1000]), ratio=0.9)
    smaller = remove_activations(pruned)
    assert smaller.widths[0] == 784 and smaller.widths[-1] == 10
    assert sum(smaller.widths) < sum(pruned.widths)
    removed = smaller.metadata["removed_activations"]
    assert [64 - len(removed[0]), 32 - len(removed[1])] == smaller.widths[1:3]
    assert smaller.n_parameters() < pruned.n_parameters()
    assert_same_outputs(pruned, smaller, ds.x_test)
    assert smaller.accuracy(ds.x_test, ds.y_test) == pruned.accuracy(ds.x_test, ds.y_test)
    sparse = remove_activations(pruned.to_sparse())
    assert sparse.widths == smaller.widths
    assert_same_outputs(pruned, sparse, ds.x_test)


# ------------------------------------------------------------------------ property test
@st.composite
def cut_models(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n_layers = draw(st.integers(2, 4))
    widths = [draw(st.integers(1, 6)) for _ in range(n_layers + 1)]
    activation = draw(st.sampled_from(["relu", "tanh", "sigmoid", "linear"]))
    layers = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        W = rng.normal(0, 1, (n_in, n_out)).astype(np.float32)
        W[rng.random(n_in) < 0.3, :] = 0          # zeroed rows
        W[:, rng.random(n_out) < 0.3] = 0         # zeroed columns
        W[rng.random(W.shape) < 0.2] = 0          # scattered zeros
        b = rng.normal(0, 2, n_out).astype(np.float32)
        layers.append(DenseLayer(W, b))
    model = MLP.from_layers(layers, head="lq", activation=activation)
    storage = draw(st.sampled_from(["dense", "csr", "mixed"]))
    if storage == "csr":
        model = model.to_sparse()
    elif storage == "mixed":
        model = model.to_sparse(layers=[0])
    return model


@settings(max_examples=60, deadline=None)
@given(cut_models())
def test_property_outputs_unchanged_and_no_dead_neuron_left(model):
    x = np.random.default_rng(0).uniform(-2, 2, (8, model.widths[0])).astype(np.float32)
    smaller = remove_activations(model)
    assert_same_outputs(model, smaller, x)
    assert smaller.widths[0] == model.widths[0] and smaller.widths[-1] == model.widths[-1]
    assert smaller.is_sparse == model.is_sparse
    Ws = smaller.weights
    for i in range(len(Ws) - 1):
        assert np.all(np.any(Ws[i] != 0, axis=0)), "a hidden neuron without incoming weights"
        assert np.all(np.any(Ws[i + 1] != 0, axis=1)), "a hidden neuron without outgoing weights"
    removed = smaller.metadata["removed_activations"]
    assert [w - len(r) for w, r in zip(model.widths[1:-1], removed)] == smaller.widths[1:-1]
