"""Selective Pruning (Pochinkov & Schoots 2024): remove the neurons far more active on the forget set.

The score of a neuron is ``mean|a_i|`` on the class to forget over ``mean|a_i|`` on the rest
(:func:`selective_pruning_scores`); as the paper runs it, a few percent of each layer's
neurons with the highest ratio go per step, rescored each step (:func:`selective_pruning_steps`).
Ranked once by k, it is one of the methods of :class:`~sparana_lite.forget.Forgetter`.
"""
import numpy as np

from .. import _validate as V
from .. import prune as P

__all__ = ["selective_pruning_scores", "selective_pruning_steps"]


def selective_pruning_scores(model, x_forget, x_retain, eps=1e-6):
    """Selective Pruning (Pochinkov & Schoots 2024), per neuron, for a ReLU network:

        s_i = I_forget(i) / (I_retain(i) + eps),    I_D(i) = mean_{x in D} |a_i(x)|

    where ``a_i`` is the neuron's (post-activation) output; the neurons with the highest ratio
    are removed whole. Here ``a`` is every layer's input, so entry ``l`` scores the rows of
    ``model.weights[l]`` (the neurons feeding layer ``l``; layer 0's are pixels).

    Returns
    -------
    list of float64 arrays, shape (n_in,) per layer
    """
    eps = V.finite_float(eps, "eps", low=0, low_open=True)
    forget = P.mean_abs_inputs(model, x_forget, name="x_forget")
    retain = P.mean_abs_inputs(model, x_retain, name="x_retain")
    return [f / (r + eps) for f, r in zip(forget, retain)]


def selective_pruning_steps(model, x_forget, x_retain, layers=(1, 2), fraction=0.02,
                            max_steps=50, eps=1e-6):
    """Selective Pruning as published (Pochinkov & Schoots 2024): iterative.

    Each step scores the neurons of the *current* model (:func:`selective_pruning_scores`:
    mean |activation| on ``x_forget`` over that on ``x_retain``) and removes, in each layer of
    ``layers``, the ``ceil(fraction * width)`` not yet removed neurons with the highest ratio
    (a neuron is removed by zeroing its row of outgoing weights in ``model.weights[l]``, so
    layer ``l``'s rows are the neurons feeding it). The caller stops when the forget metric
    has fallen far enough (the paper repeats steps until it does).

    Parameters
    ----------
    model : MLP
        Left unchanged.
    x_forget, x_retain : float arrays (n, features)
    layers : tuple of int
        Layers whose input neurons are pruned; ``(1, 2)``: the 1000 and 800 neurons feeding
        the two middle weight matrices of 784-1000-800-400-10.
    fraction : float in (0, 1]
        Share of each layer's neurons removed per step (the paper: a few percent).
    max_steps : int
        Steps at most (fewer if every neuron of a layer is gone).

    Yields
    ------
    (int, MLP, list of int64 arrays, int)
        Step (1, 2, ...), the pruned model (masked: zeros stay zero in training), the removed
        neurons of each chosen layer so far, and the number of weights zeroed so far.
    """
    V.mlp(model)
    fraction = V.finite_float(fraction, "fraction", low=0, high=1, low_open=True)
    max_steps = V.positive_int(max_steps, "max_steps")
    layers = tuple(sorted(set(model._layer_indices(layers))))
    if not layers:
        raise ValueError("layers must name at least one layer")
    removed = {l: np.zeros(model.widths[l], bool) for l in layers}
    current = model
    for step in range(1, max_steps + 1):
        scores = selective_pruning_scores(current, x_forget, x_retain, eps=eps)
        keep = [None] * len(model.weights)
        for l in layers:
            n = model.widths[l]
            per_step = int(np.ceil(fraction * n))
            s = np.where(removed[l], -np.inf, scores[l])
            order = np.argsort(-s, kind="stable")
            fresh = order[:per_step]
            fresh = fresh[~removed[l][fresh]]
            removed[l][fresh] = True
            mask = np.ones(model.weights[l].shape, bool)
            mask[removed[l], :] = False
            keep[l] = mask
        current = P.apply_masks(model, keep)
        zeroed = sum(int(np.count_nonzero(model.weights[l][removed[l], :])) for l in layers)
        yield step, current, [np.flatnonzero(removed[l]) for l in layers], zeroed
        if any(removed[l].all() for l in layers):
            return
