"""SSD and Selective Pruning as their papers run them: SSD's biases, Selective Pruning's steps."""
import numpy as np
import pytest

from sparana_lite import forget as F

from . import reference as ref
from .test_forget import TARGET, X, Y, tiny


def fisher_biases64(model, x, y, batch):
    out = [np.zeros(b.shape) for b in model.biases]
    starts = range(0, len(x), batch)
    for s in starts:
        _, db = ref.gradients([W.astype(float) for W in model.weights],
                              [b.astype(float) for b in model.biases], x[s:s + batch],
                              y[s:s + batch], model.head, "relu")
        for o, g in zip(out, db):
            o += (np.ravel(g) / len(x[s:s + batch])) ** 2
    return [o / len(starts) for o in out]


@pytest.mark.parametrize("head", ["lq", "sce"])
def test_fisher_diagonal_biases_matches_numpy(head):
    m = tiny(head)
    got = F.fisher_diagonal_biases(m, X, Y, batch_size=16)
    for g, e in zip(got, fisher_biases64(m, X, Y, 16)):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-12)


def test_ssd_dampens_biases_only_when_asked():
    m = tiny()
    xt, yt = X[Y == TARGET], Y[Y == TARGET]
    plain, n_plain = F.ssd(m, xt, yt, X, Y, alpha=2, lam=1, batch_size=16)
    both, n_both = F.ssd(m, xt, yt, X, Y, alpha=2, lam=1, batch_size=16, biases=True)
    for b, p in zip(m.biases, plain.biases):
        np.testing.assert_array_equal(b, p)               # the default leaves biases alone
    fe, fd = fisher_biases64(m, xt, yt, 16), fisher_biases64(m, X, Y, 16)
    n_b = 0
    for b, e, f, d in zip(m.biases, both.biases, fe, fd):
        sel = f > 2 * d
        beta = np.where(sel, np.minimum(d / np.where(sel, f, 1), 1), 1)
        np.testing.assert_allclose(e, b * beta, rtol=1e-4, atol=1e-7)
        n_b += int(np.count_nonzero((beta < 1) & (b != 0)))
    for W, V in zip(plain.weights, both.weights):
        np.testing.assert_array_equal(W, V)                # the weights: the same either way
    assert n_b > 0 and n_both == n_plain + n_b


def test_forgetter_ssd_model_with_biases_is_ssd():
    m = tiny()
    f = F.Forgetter(m, X, Y, TARGET)
    a, na = f.ssd_model(alpha=2, lam=1, biases=True)
    b, nb = F.ssd(m, X[Y == TARGET], Y[Y == TARGET], X, Y, alpha=2, lam=1, biases=True)
    assert na == nb
    for x, y in zip(a.biases + a.weights, b.biases + b.weights):
        np.testing.assert_array_equal(x, y)
    c, _ = f.ssd_model(alpha=2, lam=1, layers=(1,), biases=True)
    for i, (b0, b1) in enumerate(zip(m.biases, c.biases)):
        if i != 1:
            np.testing.assert_array_equal(b0, b1)          # only the chosen layer's biases


def test_selective_pruning_steps_rescore_and_remove_whole_neurons():
    m = tiny()
    xf, xr = X[Y == TARGET], X[Y != TARGET]
    steps = list(F.selective_pruning_steps(m, xf, xr, layers=(1, 2), fraction=0.25, max_steps=3))
    assert [s[0] for s in steps] == [1, 2, 3]
    removed_before = {1: set(), 2: set()}
    for step, pruned, removed, zeroed in steps:
        # the scores of this step are those of the previous step's model
        prev = m if step == 1 else steps[step - 2][1]
        scores = F.selective_pruning_scores(prev, xf, xr)
        n_zeroed = 0
        for l, rem in zip((1, 2), removed):
            per_step = int(np.ceil(0.25 * m.widths[l]))
            fresh = set(rem.tolist()) - removed_before[l]
            assert len(fresh) == per_step and removed_before[l] <= set(rem.tolist())
            left = [i for i in range(m.widths[l]) if i not in removed_before[l]]
            best = sorted(left, key=lambda i: -scores[l][i])[:per_step]
            assert fresh == set(best)
            removed_before[l] = set(rem.tolist())
            W = pruned.weights[l]
            assert not W[rem].any()                              # whole rows are zero
            keep = np.setdiff1d(np.arange(m.widths[l]), rem)
            np.testing.assert_array_equal(W[keep], m.weights[l][keep])
            n_zeroed += int(np.count_nonzero(m.weights[l][rem]))
        assert zeroed == n_zeroed
        for l in (0, 3):
            np.testing.assert_array_equal(pruned.weights[l], m.weights[l])
    # every neuron gone: the steps end early
    assert len(list(F.selective_pruning_steps(m, xf, xr, layers=(2,), fraction=0.5,
                                              max_steps=10))) == 2


def test_selective_pruning_steps_validate():
    m = tiny()
    with pytest.raises(ValueError, match="fraction"):
        next(F.selective_pruning_steps(m, X, X, fraction=0))
    with pytest.raises(ValueError, match="max_steps"):
        next(F.selective_pruning_steps(m, X, X, max_steps=0))
