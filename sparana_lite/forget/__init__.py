"""Forgetting: make a trained network forget one class by changing a few weights, no retraining.

    f = Forgetter(model, ds.x_train, ds.y_train, target=7)
    sweep = f.sweep("maav_difference", ks=range(0, 10_001, 500), layers=(1, 2),
                    x=ds.x_test, y=ds.y_test)
    sweep.class_accuracy()            # (len(ks), classes)
    f.model_at("maav_difference", 7000, layers=(1, 2))   # the edited model for one k

One module per method, as the chapters name them, and one for the evaluations:

    maav_difference    the blog's method: class activity, the Forgetter (every method ranked
                       by k, for comparison) and its Sweep over k
    ssd                Selective Synaptic Dampening: Fisher importances, dampening factors
    selective_pruning  Selective Pruning: neuron scores, the paper's repeated steps
    evaluate           relearning, linear probes, membership inference

A *method* gives, in each chosen layer, an order of the weights (changed first to last) and
the value a chosen weight gets (0 for pruning). Editing the top ``k`` of each chosen layer gives
the model for ``k``; the orders are computed once per method and class, so a sweep over many k
only evaluates. ``x_target`` are the training images of the class to forget (the *forget set*),
``x_rest`` the other training images (the *retain set*). The methods (largest score first):

    maav_difference    S = |W| (mean|a|_target - mean|a|_rest)       the blog (?p=44)
    maav_target        S = |W| mean|a|_target                         control
    maav               S = |W| mean|a|_all                            control (class-agnostic)
    random             S ~ U[0, 1)                                    control
    magnitude          S = |W|                                        control
    selective_pruning  s_i = mean|a_i|_forget / mean|a_i|_retain      whole neurons
    ssd                S = I_forget / I_full, W <- W min(lam I_full / I_forget, 1)

These are the methods ranked by k (one shot). As their papers run them: SSD with a threshold
alpha instead of k (:func:`ssd`, :meth:`Forgetter.ssd_model`, biases optional), Selective
Pruning in repeated steps of a few percent of the neurons (:func:`selective_pruning_steps`).

``layers`` are indices into ``model.layers``: ``(1, 2)`` are the two middle weight matrices of
784-1000-800-400-10 (1000x800 and 800x400), the blog's choice. ``k`` counts weights per chosen
layer; for ``selective_pruning`` a neuron is removed with its whole row of outgoing weights, so
``k`` rounds down to whole rows.

Metrics beyond accuracy: :func:`relearn` (how fast the class comes back while the others
stay), :func:`linear_probe`, :func:`membership_advantage` and :func:`membership_rate`.
:func:`relearn_steps` is the older relearning count, deprecated: it fine-tunes on the target
alone and never looks at the other classes.
"""
from ._activations import EVAL_CHUNK  # noqa: F401
from .evaluate import (Relearning, linear_probe, membership_advantage, membership_rate, relearn,
                       relearn_steps)
from .maav_difference import (METHOD_LABELS, METHODS, MIDDLE, Forgetter, Sweep,  # noqa: F401
                              class_activity)
from .selective_pruning import selective_pruning_scores, selective_pruning_steps
from .ssd import fisher_diagonal, fisher_diagonal_biases, ssd, ssd_factors

__all__ = ["METHODS", "MIDDLE", "Forgetter", "Sweep", "class_activity", "selective_pruning_scores",
           "selective_pruning_steps", "fisher_diagonal", "fisher_diagonal_biases", "ssd_factors",
           "ssd", "relearn_steps", "linear_probe", "membership_advantage", "Relearning", "relearn",
           "membership_rate"]
