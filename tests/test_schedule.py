"""Removal schedules: one-shot and iterative prune-then-remove, with exact removal at every step."""
import numpy as np
import pytest

import sparana_lite as sl
from sparana_lite import schedule as S
from sparana_lite.cost import flops_per_sample

RNG = np.random.default_rng(5)
X = RNG.uniform(0, 1, (300, 12)).astype(np.float32)
Y = RNG.integers(0, 4, 300)


@pytest.fixture(scope="module")
def trained_small():
    model = sl.MLP([12, 30, 24, 16, 4], seed=1)
    sl.train(model, X, Y, optimizer=sl.Adam(lr=1e-3, eps=1e-3), steps=60, batch_size=50,
             progress=False)
    return model


def assert_exact_every_step(run):
    for change, scale in zip(run.max_output_change, run.output_scale):
        assert change <= 1e-5 * max(1.0, scale), (change, scale)


@pytest.mark.parametrize("criterion", S.CRITERIA)
def test_one_shot_exact_and_records(trained_small, criterion):
    amounts = [0.3, 0.6, 0.9]
    run = S.one_shot(trained_small, criterion, amounts, X, X, Y, keep_models=True)
    assert run.amount == [0.0] + amounts
    assert len(run.widths) == len(run.accuracy) == len(run.models) == 4
    assert run.widths[0] == trained_small.widths
    assert_exact_every_step(run)
    for w, m, p, f, nz in zip(run.widths, run.models, run.n_parameters, run.flops, run.nonzero):
        assert m.widths == w and w[0] == 12 and w[-1] == 4
        assert p == sum(a * b + b for a, b in zip(w[:-1], w[1:]))
        assert f == 2 * sum(a * b for a, b in zip(w[:-1], w[1:]))
        assert nz == m.n_parameters() <= p
    # the original model is untouched and accuracy record 0 is its accuracy
    assert run.accuracy[0] == trained_small.accuracy(X, Y)


@pytest.mark.parametrize("criterion", S.CRITERIA)
def test_iterative_exact_and_monotone(trained_small, criterion):
    run = S.iterative(trained_small, criterion, step=0.25, n_steps=5, x_score=X, x_test=X,
                      y_test=Y, keep_models=True)
    assert len(run.widths) == 6
    assert_exact_every_step(run)
    hw = run.hidden_widths
    assert hw.shape == (6, 3)
    assert np.all(np.diff(hw, axis=0) <= 0)           # layers never grow
    assert np.all(np.diff(run.nonzero) <= 0)
    np.testing.assert_allclose(run.amount, 1 - 0.75 ** np.arange(6))


def test_iterative_weight_sparsity_compounds(trained_small):
    run = S.iterative(trained_small, "magnitude", step=0.5, n_steps=2, x_test=X, y_test=Y,
                      keep_models=True)
    # magnitude empties no whole row here, so the nonzero weights of pruned layers halve per step
    nnz0 = [np.count_nonzero(W) for W in trained_small.weights]
    m2 = run.models[2]
    if m2.widths == trained_small.widths:
        nnz2 = [np.count_nonzero(W) for W in m2.weights]
        for a, b in zip(nnz0[:-1], nnz2[:-1]):
            assert abs(b - a / 4) <= 2
        assert nnz2[-1] == nnz0[-1]


def test_neuron_criteria_remove_that_fraction(trained_small):
    n_hidden = sum(trained_small.widths[1:-1])
    pruned = S.prune_step(trained_small, "group_norm", 0.5)
    shrunk = sl.remove_activations(pruned)
    assert sum(shrunk.widths[1:-1]) <= n_hidden - round(0.5 * n_hidden)
    run = S.iterative(trained_small, "apoz", step=0.5, n_steps=1, x_score=X, x_test=X, y_test=Y)
    assert sum(run.widths[1][1:-1]) <= n_hidden - round(0.5 * n_hidden)


def test_apoz_is_fraction_of_zero_activations(trained_small):
    imp = S.neuron_scores(trained_small, "apoz", X)
    acts = trained_small.forward(X)[1:-1]
    for s, a in zip(imp, acts):
        np.testing.assert_allclose(s, 1 - (a == 0).mean(axis=0))


def test_group_norm_against_definition(trained_small):
    imp = S.neuron_scores(trained_small, "group_norm")
    W = trained_small.weights
    for i, s in enumerate(imp):
        norm = np.sqrt((W[i].astype(np.float64) ** 2).sum(0) + (W[i + 1].astype(np.float64) ** 2).sum(1))
        np.testing.assert_allclose(s, norm / norm.mean(), rtol=1e-10)


def test_lowest_group_norm_neurons_go_first(trained_small):
    imp = S.neuron_scores(trained_small, "group_norm")
    flat = np.concatenate(imp)
    k = 7
    pruned = S.prune_step(trained_small, "group_norm", k / flat.size)
    dead = np.concatenate([np.count_nonzero(W, axis=1) == 0 for W in pruned.weights[1:]])
    assert dead.sum() == k
    assert set(np.flatnonzero(dead)) == set(np.argsort(flat, kind="stable")[:k])


def test_retraining_between_steps_keeps_zeros(trained_small):
    run = S.iterative(trained_small, "maav", step=0.3, n_steps=2, x_score=X, x_test=X, y_test=Y,
                      retrain_steps=5, retrain_data=(X, Y), batch_size=50, keep_models=True)
    assert_exact_every_step(run)
    for m, nz in zip(run.models[1:], run.nonzero[1:]):
        assert m.n_parameters() == nz
    with pytest.raises(ValueError, match="retrain_data"):
        S.one_shot(trained_small, "maav", [0.5], X, X, Y, retrain_steps=3)


def test_one_shot_retraining_records_both(trained_small):
    run = S.one_shot(trained_small, "magnitude", [0.8], None, X, Y, retrain_steps=20,
                     retrain_data=(X, Y), batch_size=50)
    assert len(run.accuracy_before_retrain) == 2
    assert run.accuracy[1] != run.accuracy_before_retrain[1] or run.accuracy[1] == 1.0


def test_from_scratch(trained_small):
    pruned = S.prune_step(trained_small, "maav", 0.8, X)
    shrunk = sl.remove_activations(pruned)
    dense = S.from_scratch(shrunk, X, Y, steps=3, batch_size=50)
    assert dense.widths == shrunk.widths and all(s == 0 for s in dense.sparsity())
    masked = S.from_scratch(shrunk, X, Y, steps=3, batch_size=50, keep_mask=True)
    for a, b in zip(masked.weights, shrunk.weights):
        assert np.array_equal(a != 0, b != 0) or np.all((a != 0) <= (b != 0))
    assert not np.array_equal(masked.weights[0], shrunk.weights[0])


def test_flops_dense_and_csr(trained_small):
    pruned = S.prune_step(trained_small, "magnitude", 0.5)
    dense_flops = 2 * sum(a * b for a, b in zip(pruned.widths[:-1], pruned.widths[1:]))
    assert flops_per_sample(pruned) == dense_flops
    assert flops_per_sample(pruned.to_sparse()) == 2 * sum(np.count_nonzero(W)
                                                         for W in pruned.weights)
    with pytest.raises(TypeError, match="model"):
        flops_per_sample("x")


def test_bad_inputs(trained_small):
    with pytest.raises(ValueError, match="criterion"):
        S.one_shot(trained_small, "biggest", [0.5], X, X, Y)
    with pytest.raises(ValueError, match="x_score"):
        S.one_shot(trained_small, "maav", [0.5], None, X, Y)
    with pytest.raises(ValueError, match="amounts"):
        S.one_shot(trained_small, "magnitude", [1.5], None, X, Y)
    with pytest.raises(ValueError, match="step"):
        S.iterative(trained_small, "magnitude", step=1.0, n_steps=2, x_test=X, y_test=Y)
    with pytest.raises(ValueError, match="n_steps"):
        S.iterative(trained_small, "magnitude", step=0.5, n_steps=0, x_test=X, y_test=Y)
    with pytest.raises(ValueError, match="y_test"):
        S.one_shot(trained_small, "magnitude", [0.5], None, X, Y[:10])
    with pytest.raises(TypeError, match="model"):
        S.one_shot("model", "magnitude", [0.5], None, X, Y)
    with pytest.raises(ValueError, match="criterion"):
        S.neuron_scores(trained_small, "maav", X)
    with pytest.raises(ValueError, match="criterion"):
        S.weight_scores(trained_small, "apoz", X)


def test_prune_last_lets_the_last_hidden_layer_shrink(trained_small):
    spared = S.one_shot(trained_small, "maav", [0.95], X, X, Y, keep_models=True)
    assert spared.models[1].sparsity()[-1] == 0.0      # the output layer is spared
    both = S.iterative(trained_small, "maav", 0.5, 3, X, X, Y, prune_last=True, keep_models=True)
    assert_exact_every_step(both)
    nnz_last = [np.count_nonzero(m.weights[-1]) for m in both.models]
    assert nnz_last[-1] <= 0.125 * trained_small.weights[-1].size + 1


def test_run_summaries():
    run = S.RemovalRun("maav", "iterative")
    run.nonzero = [100, 50, 20]
    run.widths = [[5, 10, 10, 2], [5, 10, 6, 2], [5, 4, 2, 2]]
    run.accuracy = [0.9, 0.8, 0.5]
    np.testing.assert_allclose(run.size_left, [1, 0.5, 0.2])
    np.testing.assert_allclose(run.width_fractions, [[1, 1], [1, 0.6], [0.4, 0.2]])
    np.testing.assert_allclose(run.widths_at(0.35), [0.7, 0.4])
    assert run.accuracy_at(0.5) == pytest.approx(0.8)
    assert run.accuracy_at(0.1) is None
    run.n_parameters = [200, 200, 100]
    np.testing.assert_allclose(run.dense_size_left, [1, 1, 0.5])
    assert run.accuracy_at(0.75, by="dense") == pytest.approx(0.65)
    with pytest.raises(ValueError, match="by"):
        run.widths_at(0.5, by="flops")
    # layer 1 falls to 0.5 a quarter of the way from record 1 (0.6) to record 2 (0.2)
    assert run.width_when(0, 1, 0.5) == pytest.approx(1 - 0.25 * 0.6)
    assert run.width_when(0, 1, 0.1) is None
    assert run.width_when(1, 0, 1.0) == 1.0


def _write_fashion_like(folder, rng):
    """The four Fashion-MNIST IDX files (full counts, raw), images that carry their label."""
    from sparana_lite.data import idx
    folder.mkdir(parents=True)
    for f in idx._FILES:
        header = [f.magic, f.count] + ([28, 28] if f.magic == 2051 else [])
        if f.magic == 2051:
            labels = np.arange(f.count) % 10
            payload = (rng.random((f.count, 784)) * 60).astype(np.uint8)
            payload[np.arange(f.count), labels * 70 + 100] = 255
        else:
            payload = (np.arange(f.count) % 10).astype(np.uint8)
        (folder / f.stem).write_bytes(np.array(header, ">u4").tobytes() + payload.tobytes())


def test_zoo_runs_on_fashion_mnist_files(tmp_path, tmp_cache, monkeypatch):
    """The Fashion-MNIST code path of the Part 2 chapter, on files in Fashion-MNIST's format."""
    from sparana_lite import zoo
    _write_fashion_like(tmp_path / "data" / "fashion_mnist", np.random.default_rng(0))
    monkeypatch.setenv("SPARANA_LITE_DATA", str(tmp_path / "data"))
    monkeypatch.setitem(zoo.CONFIGS, "tiny-fashion", zoo.Config(
        (784, 16, 16, 16, 10), "lq", zoo.BLOG_ADAM, 50, 20, 20, "fashion_mnist"))
    ds = sl.load_fashion_mnist(download=False)
    assert ds.name == "fashion_mnist"
    runs = S.zoo_runs("tiny-fashion", seeds=(0, 1), step=0.3, n_steps=3, n_score=200, n_test=300)
    assert set(runs) == {0, 1}
    for run in runs.values():
        assert run.widths[0] == [784, 16, 16, 16, 10] and len(run.widths) == 4
        assert_exact_every_step(run)
        assert run.width_when(0, 2, 0.5) is None or 0 <= run.width_when(0, 2, 0.5) <= 1
    assert any(p.name.startswith("tiny-fashion-seed1") for p in (tmp_cache / "models").iterdir())
    with pytest.raises(KeyError, match="name"):
        S.zoo_runs("no-such-model")


# ------------------------------------------------------------------ inputs refused or sorted

def test_one_shot_sorts_amounts(trained_small):
    """Unsorted amounts are sorted (the docstring says so), so that the size axis of
    ``accuracy_at`` / ``widths_at`` is monotone: the same run either way."""
    shuffled = S.one_shot(trained_small, "magnitude", [0.9, 0.3, 0.6], None, X, Y)
    ordered = S.one_shot(trained_small, "magnitude", [0.3, 0.6, 0.9], None, X, Y)
    assert shuffled.amount == ordered.amount == [0.0, 0.3, 0.6, 0.9]
    assert shuffled.accuracy == ordered.accuracy
    assert shuffled.accuracy_at(0.2) == ordered.accuracy_at(0.2)
    assert np.all(np.diff(shuffled.size_left) <= 0)


def test_width_when_refuses_bad_layers_and_levels():
    run = S.RemovalRun("maav", "iterative")
    run.widths = [[5, 10, 10, 2], [5, 10, 6, 2], [5, 4, 2, 2]]
    for bad in (-1, 2, 1.5):
        with pytest.raises(ValueError, match="layer"):
            run.width_when(bad, 1, 0.5)
        with pytest.raises(ValueError, match="other"):
            run.width_when(0, bad, 0.5)
    for bad in (1.01, -0.1, float("nan")):
        with pytest.raises(ValueError, match="level"):
            run.width_when(0, 1, bad)


def test_group_norm_named_for_what_it_is(trained_small):
    """``group_norm`` is the L2 norm of a neuron's incoming column and outgoing row over its
    layer's mean. Torch-Pruning's ``GroupMagnitudeImportance`` (p=2, mean reduction, mean
    normaliser) sums squares without the root: the two rank neurons alike within a layer but not
    across layers, so the docs must say so rather than call them the same."""
    W = [w.astype(np.float64) for w in trained_small.weights]
    ours = S.neuron_scores(trained_small, "group_norm")
    for i in range(len(W) - 1):
        sq = ((W[i] ** 2).sum(0) + (W[i + 1] ** 2).sum(1)) / 2      # Torch-Pruning's score
        tp = sq / sq.mean()
        assert (np.argsort(ours[i], kind="stable") == np.argsort(tp, kind="stable")).all()
        assert not np.allclose(ours[i], tp)
    doc = S.__doc__ + S.neuron_scores.__doc__
    assert "as Torch-Pruning's default" not in doc
    assert "GroupMagnitudeImportance" in doc and "not Torch-Pruning's" in doc


def test_iterative_goes_on_past_an_emptied_layer():
    """Random pruning of every layer of a narrow net can empty a hidden layer; the schedule
    records the dead network (chance accuracy) instead of dividing by its zero size."""
    model = sl.MLP([12, 3, 3, 4], seed=0)
    run = S.iterative(model, "random", 0.6, 6, None, X, Y, prune_last=True)
    assert len(run.widths) == 7 and min(min(w[1:-1]) for w in run.widths) == 0


def test_scaled_widths_matches_the_count():
    w = S.scaled_widths([784, 567, 327, 400, 10], 190_000)
    count = sum(a * b + b for a, b in zip(w[:-1], w[1:]))
    assert w[0] == 784 and w[-1] == 10 and abs(count - 190_000) < 2_000
    assert w[1] > w[3] > w[2]                   # the shape, scaled
    assert S.scaled_widths([4, 10, 3], 10**6)[1] > 10     # grows when asked for more
    with pytest.raises(ValueError, match="hidden"):
        S.scaled_widths([4, 3], 100)
    with pytest.raises(ValueError, match="n_parameters"):
        S.scaled_widths([4, 5, 3], 0)
