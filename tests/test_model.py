import json
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import sparana_lite as sl
from sparana_lite.model import FORMAT_VERSION

from . import reference as ref

RNG = np.random.default_rng(1)
X = RNG.random((32, 12), dtype=np.float32)
Y = RNG.integers(0, 5, 32)


def small(head="lq", activation="relu", seed=0, widths=(12, 9, 7, 5)):
    return sl.MLP(list(widths), head=head, activation=activation, seed=seed)


def pruned(model, fraction=0.6, seed=0):
    """A copy with a random fraction of each layer's weights set to zero."""
    rng = np.random.default_rng(seed)
    out = model.copy()
    for layer in out.layers:
        layer.W[rng.random(layer.W.shape) < fraction] = 0
    return out


# ------------------------------------------------------------------------ construction
def test_init_follows_the_original():
    model = sl.MLP([784, 1000, 800, 400, 10], seed=0)
    assert model.widths == [784, 1000, 800, 400, 10]
    for W, b in zip(model.weights, model.biases):
        assert W.dtype == np.float32 and b.dtype == np.float32
        assert np.all(b == np.float32(0.1))
        expected = np.sqrt(3 / sum(W.shape))
        assert abs(W.std() / expected - 1) < 0.02
        assert abs(W.mean()) < 0.01 * expected


def test_same_seed_same_weights_other_seed_other_weights():
    a, b, c = small(seed=3), small(seed=3), small(seed=4)
    assert all(np.array_equal(p, q) for p, q in zip(a.weights, b.weights))
    assert not np.array_equal(a.weights[0], c.weights[0])


@pytest.mark.parametrize("kwargs, match", [
    ({"widths": [10]}, "widths"),
    ({"widths": [10, 0, 3]}, r"widths\[1\]"),
    ({"widths": [10, 2.5, 3]}, r"widths\[1\]"),
    ({"widths": [10, 3], "head": "mse"}, "head"),
    ({"widths": [10, 3], "activation": "gelu"}, "activation"),
    ({"widths": [10, 3], "seed": -1}, "seed"),
    ({"widths": [10, 3], "bias": float("nan")}, "bias"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sl.MLP(**kwargs)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"head": "LQ"}, ValueError, r"head must be one of \('lq', 'sce'\); got 'LQ'"),
    ({"activation": "ReLU"}, ValueError, "activation must be one of"),
    ({"seed": -1}, ValueError, "seed"),
    ({"metadata": "notes"}, TypeError, "metadata must be a dict"),
])
def test_from_layers_checks_like_the_constructor(kwargs, error, match):
    """from_layers (used by copy, load, pruning and chapters) runs the constructor's checks.
    Fails if it accepts an unknown head such as "LQ" (which trained with cross-entropy and
    returned raw logits), an unknown activation, a bad seed or non-dict metadata."""
    with pytest.raises(error, match=match):
        sl.MLP.from_layers(small().layers, **kwargs)


def test_from_layers_checks_the_layers():
    """Fails if from_layers accepts no layers, a non-layer, or layers whose widths do not chain."""
    l0, l1, l2 = small().layers
    with pytest.raises(ValueError, match="layers must be a non-empty list"):
        sl.MLP.from_layers([])
    with pytest.raises(TypeError, match=r"layers\[1\] must be a DenseLayer or CSRLayer"):
        sl.MLP.from_layers([l0, "layer"])
    with pytest.raises(ValueError, match=r"layers\[1\] has 7 inputs but layers\[0\] has 9 outputs"):
        sl.MLP.from_layers([l0, l2])
    assert sl.MLP.from_layers([l0, l1, l2], head="sce").widths == [12, 9, 7, 5]


@pytest.mark.parametrize("call", [
    lambda m: m.loss(X, Y),
    lambda m: m.output(X),
    lambda m: m.gradients(X, Y),
    lambda m: sl.attacks.detection_scores(m, m.logits(X)),
], ids=["loss", "output", "gradients", "detection_scores"])
def test_every_head_branch_refuses_an_unknown_head(call):
    """A head set after construction ("LQ") must not fall into another head's branch. Fails if
    a branch on the head has an else that treats an unknown head as "sce" (or "lq")."""
    model = small()
    model.head = "LQ"
    with pytest.raises(ValueError, match=r"head must be one of \('lq', 'sce'\); got 'LQ'"):
        call(model)


# --------------------------------------------------------------------------- forward
@pytest.mark.parametrize("head", ["lq", "sce"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
def test_forward_matches_reference(head, activation):
    model = small(head, activation)
    a = X.astype(float)
    for i, (W, b) in enumerate(zip(model.weights, model.biases)):
        z = a @ W + b
        a = ref.ACT[activation][0](z) if i < 2 else z
    np.testing.assert_allclose(model.logits(X), a, rtol=1e-5, atol=1e-5)
    out = model.output(X)
    if head == "lq":
        np.testing.assert_array_equal(out, model.logits(X))
    else:
        np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)
        assert np.all(out >= 0)
    np.testing.assert_array_equal(model.predict(X), np.argmax(a, axis=1))


def test_accuracy_and_class_accuracy_agree():
    model = small()
    pred = model.predict(X)
    assert model.accuracy(X, Y) == pytest.approx(np.mean(pred == Y))
    per_class = model.class_accuracy(X, Y)
    for k in range(5):
        assert per_class[k] == pytest.approx(np.mean(pred[Y == k] == k))


def test_inference_in_chunks_equals_one_pass(monkeypatch):
    model = small()
    whole = model.logits(X)
    monkeypatch.setattr(sl.model, "PREDICT_CHUNK", 5)
    # BLAS may pick other kernels for other row counts, so equal up to float32 rounding
    np.testing.assert_allclose(model.logits(X), whole, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("storage", ["dense", "csr"])
@pytest.mark.parametrize("call", ["logits", "output", "predict", "accuracy", "loss", "gradients"])
def test_bad_inputs_name_the_argument(call, storage):
    """A CSR model checks its input for NaN while it transposes it (kernels.csr.padded_input),
    not in a pass of its own: the error is the same."""
    model = small() if storage == "dense" else pruned(small()).to_sparse()
    needs_y = call in ("accuracy", "loss", "gradients")
    f = getattr(model, call)
    run = (lambda x, y=Y: f(x, y)) if needs_y else (lambda x, y=None: f(x))
    with pytest.raises(ValueError, match="x must have 12 features"):
        run(X[:, :10])
    with pytest.raises(ValueError, match="x must be a 2-D"):
        run(X[0])
    bad = X.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        run(bad)
    if needs_y:
        with pytest.raises(ValueError, match=r"y must hold labels in \[0, 4\]"):
            run(X, Y + 1)
        with pytest.raises(ValueError, match="y has 31 labels but x has 32"):
            run(X, Y[:-1])


# ------------------------------------------------------------------- loss, gradients
@pytest.mark.parametrize("head", ["lq", "sce"])
def test_loss_matches_reference(head):
    model = small(head)
    expected = ref.loss(model.weights, model.biases, X, Y, head, "relu")
    assert model.loss(X, Y) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("head", ["lq", "sce"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_gradients_match_reference_backprop(head, activation):
    model = small(head, activation)
    dW, db = model.gradients(X, Y)
    rW, rb = ref.gradients(model.weights, model.biases, X, Y, head, activation)
    for g, r in zip(dW + db, rW + rb):
        assert g.shape == r.shape and g.dtype == np.float32
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4 * np.abs(r).max())


@pytest.mark.parametrize("head", ["lq", "sce"])
def test_gradients_match_finite_differences(head):
    """Central differences of the float64 loss at the model's weights, entry by entry."""
    model = small(head, "tanh")  # smooth, so differences converge
    dW, db = model.gradients(X, Y)
    Ws = [W.astype(float) for W in model.weights]
    bs = [b.astype(float) for b in model.biases]
    rng = np.random.default_rng(0)
    h = 1e-6
    for layer in range(3):
        for _ in range(4):
            i, j = (rng.integers(n) for n in Ws[layer].shape)
            Ws[layer][i, j] += h
            up = ref.loss(Ws, bs, X, Y, head, "tanh")
            Ws[layer][i, j] -= 2 * h
            down = ref.loss(Ws, bs, X, Y, head, "tanh")
            Ws[layer][i, j] += h
            assert dW[layer][i, j] == pytest.approx((up - down) / (2 * h), rel=2e-3, abs=2e-4)
        j = rng.integers(bs[layer].shape[0])
        bs[layer][j] += h
        up = ref.loss(Ws, bs, X, Y, head, "tanh")
        bs[layer][j] -= 2 * h
        down = ref.loss(Ws, bs, X, Y, head, "tanh")
        bs[layer][j] += h
        assert db[layer][j] == pytest.approx((up - down) / (2 * h), rel=2e-3, abs=2e-4)


@pytest.mark.parametrize("head", ["lq", "sce"])
def test_input_gradient_matches_finite_differences(head):
    model = small(head, "tanh")
    gx = model.input_gradient(X[:4], Y[:4])
    assert gx.shape == (4, 12) and gx.dtype == np.float32
    Ws = [W.astype(float) for W in model.weights]
    bs = [b.astype(float) for b in model.biases]
    x = X[:4].astype(float)
    h = 1e-6
    for n, j in [(0, 0), (1, 5), (3, 11)]:
        x[n, j] += h
        up = ref.loss(Ws, bs, x, Y[:4], head, "tanh")
        x[n, j] -= 2 * h
        down = ref.loss(Ws, bs, x, Y[:4], head, "tanh")
        x[n, j] += h
        assert gx[n, j] == pytest.approx((up - down) / (2 * h), rel=2e-3, abs=2e-5)
    sparse = pruned(model).to_sparse()
    np.testing.assert_allclose(sparse.input_gradient(X[:4], Y[:4]),
                               pruned(model).input_gradient(X[:4], Y[:4]), rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------ sparsity, copies
def test_sparsity_counts_zeros():
    model = small()
    assert model.sparsity() == [0.0, 0.0, 0.0]
    model.weights[1][:2, :] = 0  # dense layers hand out their arrays
    assert model.sparsity()[1] == pytest.approx(2 / 9)


def test_copy_is_independent():
    model = small()
    twin = model.copy()
    twin.weights[0][:] = 0
    twin.biases[0][:] = 5
    assert model.sparsity()[0] == 0 and np.all(model.biases[0] == np.float32(0.1))


# ------------------------------------------------------------------ dense <-> sparse
@pytest.mark.parametrize("n, rows", [(1, 1), (100, 100), (127, 127), (128, 128), (129, 144),
                                     (250, 256), (500, 528), (512, 528), (1000, 1008),
                                     (1024, 1040)])
def test_padded_batch_aligns_the_rows(n, rows):
    """From 128 samples up, zero rows up to a multiple of 16, and 16 more where rows would span
    a multiple of 1 KB from 512 samples up; smaller batches (a single sample above all: it
    takes the spmv path) as they are; the real rows unchanged. Fails if a count is left
    unaligned, a small batch is padded, the cache-set rule is dropped or the real rows move."""
    from sparana_lite.kernels.csr import padded_batch
    x = np.random.default_rng(0).random((n, 3), dtype=np.float32)
    padded = padded_batch(x)
    assert padded.shape == (rows, 3) and padded.dtype == x.dtype
    np.testing.assert_array_equal(padded[:n], x)
    assert not padded[n:].any()
    assert (padded is x) == (rows == n)


def test_sparse_logits_of_a_padded_batch_are_those_of_its_rows():
    """A CSR model pads each block of a batch to aligned rows; every row's logits are those of
    the unpadded forward pass, bit for bit (all layers CSR: no BLAS product whose rounding
    depends on the row count), and the padding rows are not returned. 300 rows pad to 304
    and take the register tiles (128 columns), 13 rows are not padded; fails if the
    padding changed a real row or leaked into the output."""
    model = pruned(small(widths=(40, 30, 20, 10)), 0.5).to_sparse()
    x = np.random.default_rng(1).random((300, 40), dtype=np.float32)
    for rows in (x, x[:13]):
        logits = model.logits(rows)
        assert logits.shape == (rows.shape[0], 10)
        np.testing.assert_array_equal(logits, model.forward(np.ascontiguousarray(rows))[-1])


@pytest.mark.parametrize("layers", [None, [0, 1]])
def test_tiled_logits_are_those_of_the_forward_pass(layers):
    """Batches of 128 samples or more of a model whose layers but the last are CSR go through
    the tiled layout (``kernels.csr.tiled_input``). Their logits are the forward pass's: bit
    for bit when the output layer is CSR too, to float32 rounding when it is dense (its BLAS
    product runs per tile, and some OpenBLAS kernels round the last bit by row count). A NaN
    among the samples is refused. Fails if a tile or the last slab of 44 samples is lost or
    misplaced, or if the check is skipped."""
    model = pruned(small(widths=(40, 30, 20, 10)), 0.5).to_sparse(layers=layers)
    x = np.random.default_rng(3).random((300, 40), dtype=np.float32)
    logits, forward = model.logits(x), model.forward(x)[-1]
    if layers is None:
        np.testing.assert_array_equal(logits, forward)
    else:
        np.testing.assert_allclose(logits, forward, rtol=1e-6, atol=1e-6)
    x[299, 39] = np.nan
    with pytest.raises(ValueError, match="x contains NaN"):
        model.logits(x)


@pytest.mark.parametrize("head", ["lq", "sce"])
@pytest.mark.parametrize("layers", [None, [0, 1]])
def test_to_sparse_keeps_outputs_and_gradients(head, layers):
    """Fails if to_sparse keeps a dense layer or changes the weights, if the CSR forward or
    backward pass differs from the dense one, or if a CSR gradient is not on the layer's own
    sparsity pattern (the gradient exists only for stored weights). With ``layers=[0, 1]`` the
    dense output layer's backward product meets a CSR layer's F-ordered activations (and is
    computed in that layout)."""
    dense = pruned(small(head))
    sparse = dense.to_sparse(layers=layers)
    assert sparse.is_sparse == ([True] * 3 if layers is None else [True, True, False])
    assert sparse.sparsity() == pytest.approx(dense.sparsity())
    np.testing.assert_allclose(sparse.output(X), dense.output(X), rtol=1e-5, atol=1e-6)
    assert sparse.loss(X, Y) == pytest.approx(dense.loss(X, Y), rel=1e-5)
    dW_s, db_s = sparse.gradients(X, Y)
    dW_d, db_d = dense.gradients(X, Y)
    for gs, gd, W, layer in zip(dW_s, dW_d, dense.weights, sparse.layers):
        if not layer.sparse:
            np.testing.assert_allclose(gs, gd, rtol=1e-4, atol=1e-5)
            continue
        nz = W != 0
        assert gs.nnz == layer.W.nnz == np.count_nonzero(W)
        np.testing.assert_array_equal(gs.indptr, layer.W.indptr)
        np.testing.assert_array_equal(gs.indices, layer.W.indices)
        np.testing.assert_allclose(gs.toarray()[nz], gd[nz], rtol=1e-4, atol=1e-5)
    for gs, gd in zip(db_s, db_d):
        np.testing.assert_allclose(gs, gd, rtol=1e-4, atol=1e-5)
    back = sparse.to_dense()
    assert all(np.array_equal(a, b) for a, b in zip(back.weights, dense.weights))
    assert all(np.array_equal(m, W != 0) for m, W, layer in zip(back.masks, dense.weights, sparse.layers)
               if layer.sparse)


def test_to_sparse_of_chosen_layers_and_bad_indices():
    model = small().to_sparse(layers=[1])
    assert model.is_sparse == [False, True, False]
    with pytest.raises(ValueError, match="layers"):
        small().to_sparse(layers=[3])


def test_with_masks_zeroes_and_validates():
    model = small()
    mask = np.zeros((12, 9), dtype=bool)
    mask[:, :3] = True
    masked = model.with_masks([mask, None, None])
    assert np.all(masked.weights[0][:, 3:] == 0) and np.array_equal(masked.masks[0], mask)
    assert model.masks == [None] * 3  # the argument is unchanged
    with pytest.raises(ValueError, match=r"masks\[0\] must be a bool array of shape \(12, 9\); got bool \(5, 9\)"):
        model.with_masks([mask[:5], None, None])
    with pytest.raises(ValueError, match="one entry per layer"):
        model.with_masks([mask])


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_with_masks_refuses_non_bool_masks_like_apply_masks(dtype):
    """A float array passed as a mask (e.g. the weights or scores themselves) must be refused,
    as prune.apply_masks refuses it, not cast to True wherever it is nonzero. Fails if either
    function casts such an array instead of refusing it."""
    model = small()
    weights = np.asarray(model.weights[0], dtype=dtype)
    with pytest.raises(ValueError, match=rf"masks\[0\] must be a bool array of shape \(12, 9\); got {np.dtype(dtype)}"):
        model.with_masks([weights, None, None])
    with pytest.raises(ValueError, match=rf"keep\[0\] must be a bool array of shape \(12, 9\); got {np.dtype(dtype)}"):
        sl.prune.apply_masks(model, [weights, None, None])


# ------------------------------------------------------------------------ save, load
@settings(max_examples=25, deadline=None)
@given(widths=st.lists(st.integers(1, 9), min_size=2, max_size=5),
       head=st.sampled_from(["lq", "sce"]), activation=st.sampled_from(["relu", "tanh"]),
       sparse_layers=st.sets(st.integers(0, 3)), masked=st.booleans(), seed=st.integers(0, 99))
def test_save_load_round_trip(tmp_path_factory, widths, head, activation, sparse_layers, masked, seed):
    model = pruned(sl.MLP(widths, head=head, activation=activation, seed=seed), 0.5, seed)
    if masked:
        model = model.with_masks([W != 0 for W in model.weights])
    model = model.to_sparse(layers=[i for i in sparse_layers if i < len(widths) - 1])
    model.metadata = {"note": "round trip", "value": 1.5}
    path = model.save(tmp_path_factory.mktemp("m") / "model.npz")
    back = sl.MLP.load(path)
    assert back.widths == model.widths and back.head == head and back.activation == activation
    assert back.is_sparse == model.is_sparse and back.metadata == model.metadata
    for a, b in zip(model.weights + model.biases, back.weights + back.biases):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    for a, b in zip(model.masks, back.masks):
        assert (a is None and b is None) or np.array_equal(a, b)


def test_save_leaves_no_temporary_files(tmp_path):
    small().save(tmp_path / "m.npz")
    small(seed=1).save(tmp_path / "m.npz")  # overwrite
    assert os.listdir(tmp_path) == ["m.npz"]
    assert np.array_equal(sl.MLP.load(tmp_path / "m.npz").weights[0], small(seed=1).weights[0])


def test_load_refuses_missing_corrupt_and_pickled_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        sl.MLP.load(tmp_path / "absent.npz")
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match="junk.npz"):
        sl.MLP.load(tmp_path / "junk.npz")
    good = small().save(tmp_path / "good.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated.npz"):
        sl.MLP.load(truncated)
    with open(tmp_path / "pickled.npz", "wb") as f:
        np.savez(f, meta=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickle"):
        sl.MLP.load(tmp_path / "pickled.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="not a valid sparana_lite model"):
        sl.MLP.load(tmp_path / "other.npz")


def _rewrite_meta(src, dst, **changes):
    with np.load(src) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta"]))
    meta.update(changes)
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(dst, **arrays)


def test_load_refuses_newer_format_and_inconsistent_shapes(tmp_path):
    """Fails if load accepts a newer format or a widths/shape mismatch, or if it refuses the
    untouched file (then the refusals would prove nothing)."""
    good = small().save(tmp_path / "good.npz")
    _rewrite_meta(good, tmp_path / "new.npz", version=FORMAT_VERSION + 1)
    with pytest.raises(ValueError, match="newer"):
        sl.MLP.load(tmp_path / "new.npz")
    _rewrite_meta(good, tmp_path / "shape.npz", widths=[12, 8, 7, 5])
    with pytest.raises(ValueError, match="has shape"):
        sl.MLP.load(tmp_path / "shape.npz")
    assert sl.MLP.load(good).widths == [12, 9, 7, 5]  # the untouched file loads: the changes were refused
