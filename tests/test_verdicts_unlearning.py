"""scripts/verdicts/unlearning.py: each rule's labels, and a case each rule rejects."""
import numpy as np
import pytest

from .scripts import import_script


@pytest.fixture(scope="module")
def u():
    return import_script("verdicts.unlearning")


@pytest.fixture(scope="module")
def labels():
    return import_script("verdicts")


def test_heavy_lifting(u, labels):
    # the book's case: far worse than random, far from chance
    v = u.heavy_lifting([0.84, 0.82, 0.86], [0.98, 0.98, 0.98])
    assert v.startswith("partly held") and labels.label(v) == "partly held"
    assert u.heavy_lifting([0.12, 0.15], [0.98, 0.97]).startswith("held")
    # rejects: the largest cost no more than random
    assert u.heavy_lifting([0.97, 0.96], [0.98, 0.98]).startswith("did not hold")
    assert u.heavy_lifting([0.84, 0.97], [0.98, 0.98]).startswith("depends on the seed")
    with pytest.raises(ValueError, match="one entry per seed"):
        u.heavy_lifting([0.8, 0.8], [0.9])


def test_not_just_large_weights(u, labels):
    maav = np.array([[0.97, 0.93, 0.84], [0.96, 0.92, 0.80]])
    w = np.array([[0.98, 0.96, 0.90], [0.97, 0.95, 0.85]])
    assert u.not_just_large_weights(maav, w).startswith("held")
    # rejects: |w| costs as much or more at every k
    assert u.not_just_large_weights(w, maav).startswith("did not hold")
    mixed = maav.copy()
    mixed[:, 0] = 0.99
    assert u.not_just_large_weights(mixed, w).startswith("partly held")
    one_seed = maav.copy()
    one_seed[1] = 0.99
    v = u.not_just_large_weights(one_seed, w)
    assert v.startswith("depends on the seed") and labels.label(v) == "depends on the seed"
    with pytest.raises(ValueError, match="seeds, ks"):
        u.not_just_large_weights(maav[0], w[0])


def test_relearning_tells(u):
    assert u.relearning_tells([5, 8, 6], [40, 30, 25]).startswith("held")
    # rejects: as fast as learning from scratch (the 7s-only recipe's picture: 2 against 5)
    assert u.relearning_tells([3, 3, 4], [5, 5, 5]).startswith("did not hold")
    assert u.relearning_tells([5, 20], [40, 30]).startswith("depends on the seed")
    # never relearned within the run: not faster; the gold standard never: anything finite is
    assert u.relearning_tells([None], [30]).startswith("did not hold")
    assert u.relearning_tells([12], [None]).startswith("held")
    with pytest.raises(ValueError, match="one entry per seed"):
        u.relearning_tells([1, 2], [3])


def test_membership_like_gold(u):
    se = 0.031
    tol = 2 * np.sqrt(2) * se
    assert u.membership_like_gold([0.05, 0.02], [0.0, 0.01], se).startswith("held")
    # rejects: an attacker that still tells the training images apart on every seed
    assert u.membership_like_gold([0.18, 0.17], [0.0, 0.01], se).startswith("did not hold")
    assert u.membership_like_gold([0.18, 0.0], [0.0, 0.0], se).startswith("depends on the seed")
    assert u.membership_like_gold([tol - 1e-9], [0.0], se).startswith("held")
    assert u.membership_like_gold([tol + 1e-6], [0.0], se).startswith("did not hold")
    with pytest.raises(ValueError, match="se must be"):
        u.membership_like_gold([0.1], [0.0], 0)
